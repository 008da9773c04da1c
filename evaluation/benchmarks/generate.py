"""Batched greedy generation with left padding, cut at stop strings."""

from __future__ import annotations

import torch


@torch.inference_mode()
def greedy_generate(
    loaded, prompts: list[str], *, max_new_tokens: int, batch_size: int, stop: list[str] = ()
) -> list[str]:
    """Greedy completions of ``prompts`` (text after the prompt, cut at the first stop string).

    A prompt longer than the model's context keeps its end (where the question is).
    """
    ids = [loaded.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    if loaded.max_positions is not None:
        ids = [row[-max(1, loaded.max_positions - max_new_tokens) :] for row in ids]
    return greedy_generate_ids(loaded, ids, max_new_tokens=max_new_tokens, batch_size=batch_size, stop=stop)


@torch.inference_mode()
def greedy_generate_ids(
    loaded, prompts: list[list[int]], *, max_new_tokens: int, batch_size: int, stop: list[str] = ()
) -> list[str]:
    """Greedy completions of already tokenized prompts."""
    tokenizer, model = loaded.tokenizer, loaded.model
    outputs: list[str] = []
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i : i + batch_size]
        width = max(len(ids) for ids in chunk)
        input_ids = torch.full((len(chunk), width), loaded.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, ids in enumerate(chunk):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        generated = model.generate(
            input_ids=input_ids.to(loaded.device),
            attention_mask=attention.to(loaded.device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=loaded.pad_token_id,
            eos_token_id=loaded.eos_token_id,
        )
        for row in generated[:, width:].tolist():
            outputs.append(cut_at_stop(tokenizer.decode(row, skip_special_tokens=True), stop))
    return outputs


def cut_at_stop(text: str, stop: list[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=len(text))
    return text[:cut]

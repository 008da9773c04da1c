"""Every model midtrain writes loads with plain transformers and stops generating at the tokenizer's EOS.

Also: the state file beside each export records where training stood (step, tokens, LR, schedule,
seq_len, RoPE, plan digest), and averages keep the same special tokens.
"""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

from training.average import average_checkpoints
from training.trainer import train
from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace


class ForceTokenAt(LogitsProcessor):
    """Make the model emit ``token`` as its ``at``-th new token (to see whether generation stops)."""

    def __init__(self, token: int, at: int, prompt_len: int):
        self.token, self.at, self.prompt_len = token, at, prompt_len

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.prompt_len == self.at:
            scores = torch.full_like(scores, -float("inf"))
            scores[:, self.token] = 0.0
        return scores


def assert_export_agrees_and_stops_at_eos(folder, *, max_new_tokens: int = 24) -> None:
    """Configs and tokenizer name the same ids; generate() stops exactly at the tokenizer's EOS."""
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    config = json.loads((folder / "config.json").read_text())
    generation = json.loads((folder / "generation_config.json").read_text())
    assert tok.eos_token_id is not None
    for key, tok_id in (
        ("eos_token_id", tok.eos_token_id),
        ("bos_token_id", tok.bos_token_id),
        ("pad_token_id", tok.pad_token_id),
    ):
        assert config.get(key) == tok_id, f"config.json {key}"
        assert generation.get(key) == tok_id, f"generation_config.json {key}"
    prompt = torch.tensor([[3, 4, 5]])
    torch.manual_seed(0)
    forced = model.generate(
        prompt,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        logits_processor=LogitsProcessorList([ForceTokenAt(tok.eos_token_id, 5, prompt.shape[1])]),
    )
    new = forced[0, prompt.shape[1] :].tolist()
    assert new[-1] == tok.eos_token_id and len(new) == 6, new  # stopped right at the forced EOS
    # Sampling freely: a sequence ends early only at the tokenizer's EOS, never at another token.
    sampled = model.generate(
        prompt.repeat(16, 1), max_new_tokens=max_new_tokens, do_sample=True, pad_token_id=tok.pad_token_id
    )
    for row in sampled[:, prompt.shape[1] :].tolist():
        ended = [i for i, t in enumerate(row) if t == tok.eos_token_id]
        if ended:
            assert all(t == tok.pad_token_id for t in row[ended[0] + 1 :])
        else:
            assert len(row) == max_new_tokens


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    # vocab 256: EOS is id 255, far from the LlamaConfig defaults (bos 1, eos 2) that leaked before
    write_tiny_workspace(root, phases=[{"web": 16, "code": 16}, {"web": 8, "code": 24}])
    runs = []
    for seed in (0, 1):
        cfg = tiny_train_config(
            root,
            run_dir=root / f"run{seed}",
            seed=seed,
            scheduler={"kind": "wsd", "decay_fraction": 0.5, "final_lr": 1e-4},
            checkpoint={"final_export": True},
        )
        runs.append(train(cfg))
    return root, runs


def test_training_export_agrees_and_generation_stops_at_eos(exported):
    _, runs = exported
    assert_export_agrees_and_stops_at_eos(runs[0].final_hf_dir)


def test_state_file_records_where_training_stood(exported):
    root, runs = exported
    result = runs[0]
    state = json.loads((result.final_hf_dir / "midtrain_state.json").read_text())
    last = read_metrics(result.metrics_path)[-1]
    assert state["step"] == result.final_step == last["step"]
    assert state["tokens"] == last["tokens"]
    assert state["lr"] == pytest.approx(last["lr"]) and state["lr"] == pytest.approx(1e-4)
    assert state["schedule"]["kind"] == "wsd" and state["schedule"]["max_steps"] == result.final_step
    assert state["seq_len"] == last["seq_len"] == 32
    assert state["max_position_embeddings"] == json.loads((result.final_hf_dir / "config.json").read_text())[
        "max_position_embeddings"
    ]
    assert state["rope_parameters"]["rope_theta"] > 0
    import hashlib

    digest = hashlib.sha256((root / "plan.parquet").read_bytes()).hexdigest()[:16]
    assert state["plan_digest"] == digest
    assert (root / "run0" / "checkpoints" / f"step_{result.final_step}").samefile(state["checkpoint"])


def test_average_keeps_the_tokenizer_special_tokens(exported, tmp_path):
    _, runs = exported
    out = average_checkpoints([r.final_hf_dir for r in runs], tmp_path / "soup")
    assert_export_agrees_and_stops_at_eos(out)
    state = json.loads((out / "midtrain_state.json").read_text())
    assert len(state["averaged_from"]) == 2 and state["checkpoint"] is None

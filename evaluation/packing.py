"""Pack documents into fixed windows exactly as training does.

Each document is tokenized and followed by EOS; the token stream is cut into ``seq_len`` windows.
``position_ids`` restart at 0 at every document start (and at each window start), so with SDPA,
``attention_mask=None`` and ``use_cache=False`` a token attends only within its own document.
``labels`` equal ``input_ids`` except -100 at document starts: the first token of a document has
no in-document context, and the model's label shift would otherwise score it from the previous one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch


@dataclass
class PackedBatch:
    input_ids: torch.Tensor  # [B, seq_len]
    labels: torch.Tensor  # [B, seq_len], -100 where not scored
    position_ids: torch.Tensor  # [B, seq_len]


def tokenize_documents(tokenizer, texts: Iterable[str], *, eos_token_id: int) -> Iterator[list[int]]:
    """Token ids of each text followed by EOS (no BOS: training packs the same way)."""
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        yield [*ids, eos_token_id]


def pack_documents(
    docs: Iterable[list[int]], *, seq_len: int, max_tokens: int | None = None
) -> Iterator[tuple[list[int], list[int]]]:
    """Yield ``(ids, doc_start_flags)`` windows of ``seq_len`` tokens; the last one may be shorter.

    ``max_tokens`` caps the tokens packed (the tail of the last document is cut).
    """
    ids: list[int] = []
    starts: list[int] = []
    total = 0
    for doc in docs:
        if max_tokens is not None:
            doc = doc[: max_tokens - total]
        if not doc:
            break
        total += len(doc)
        ids.extend(doc)
        starts.extend([1] + [0] * (len(doc) - 1))
        while len(ids) >= seq_len:
            yield ids[:seq_len], starts[:seq_len]
            ids, starts = ids[seq_len:], starts[seq_len:]
        if max_tokens is not None and total >= max_tokens:
            break
    if len(ids) > 1:
        yield ids, starts


def window_tensors(
    ids: list[int], starts: list[int], *, seq_len: int, pad_id: int
) -> tuple[torch.Tensor, ...]:
    """``input_ids``, ``labels``, ``position_ids`` for one window, right-padded to ``seq_len``."""
    n = len(ids)
    assert 0 < n <= seq_len
    input_ids = torch.full((seq_len,), pad_id, dtype=torch.long)
    input_ids[:n] = torch.tensor(ids, dtype=torch.long)
    start_flags = torch.tensor(starts, dtype=torch.bool)
    start_flags[0] = True  # a window start is a (continued) document start for positions
    labels = torch.full((seq_len,), -100, dtype=torch.long)
    labels[:n] = input_ids[:n].masked_fill(start_flags, -100)
    # position = index - index of the latest document start at or before it
    index = torch.arange(n)
    last_start = torch.cummax(torch.where(start_flags, index, torch.zeros_like(index)), dim=0).values
    position_ids = torch.zeros(seq_len, dtype=torch.long)
    position_ids[:n] = index - last_start
    # padding continues as one more "document" so it never attends into real tokens' positions
    if n < seq_len:
        position_ids[n:] = torch.arange(seq_len - n)
    return input_ids, labels, position_ids


def batches(
    windows: Iterable[tuple[list[int], list[int]]], *, seq_len: int, batch_size: int, pad_id: int
) -> Iterator[PackedBatch]:
    buffer: list[tuple[torch.Tensor, ...]] = []
    for ids, starts in windows:
        buffer.append(window_tensors(ids, starts, seq_len=seq_len, pad_id=pad_id))
        if len(buffer) == batch_size:
            yield PackedBatch(*(torch.stack(parts) for parts in zip(*buffer, strict=True)))
            buffer = []
    if buffer:
        yield PackedBatch(*(torch.stack(parts) for parts in zip(*buffer, strict=True)))

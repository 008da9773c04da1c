"""Per-domain held-out loss and perplexity, token-weighted, on windows packed as in training.

The lm head runs only on positions that are scored (not on padding or document starts) and in
chunks, so a large vocabulary never materialises a full ``[B, T, V]`` logits tensor. Models whose
logits are post-processed (soft-capping, logit scale) take the plain ``model(...).logits`` path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from evaluation.packing import PackedBatch, batches, pack_documents, tokenize_documents

_HEAD_CHUNK = 4096  # scored positions per lm-head call: bounds logits memory to chunk x vocab


def _plain_head(model) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """(backbone, lm_head) when logits are exactly ``lm_head(hidden)``, else None."""
    config = model.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    backbone, head = getattr(model, "base_model", None), model.get_output_embeddings()
    if backbone is None or backbone is model or not isinstance(head, torch.nn.Linear):
        return None
    return backbone, head


@torch.inference_mode()
def scored_losses(model, batch: PackedBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token losses (fp32) at scored positions, and the ``[B, T]`` mask of those positions.

    Position ``t`` of the mask is True when token ``t`` is scored (predicted from ``t - 1``).
    """
    device = next(model.parameters()).device
    input_ids = batch.input_ids.to(device)
    position_ids = batch.position_ids.to(device)
    targets = batch.labels.to(device)[:, 1:]
    mask = targets != -100
    parts = _plain_head(model)
    if parts is None:
        logits = model(input_ids=input_ids, position_ids=position_ids, use_cache=False).logits
        losses = F.cross_entropy(logits[:, :-1][mask].float(), targets[mask], reduction="none")
    else:
        backbone, head = parts
        hidden = backbone(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state
        hidden, gold = hidden[:, :-1][mask], targets[mask]
        losses = (
            torch.cat(
                [
                    F.cross_entropy(
                        head(hidden[i : i + _HEAD_CHUNK]).float(), gold[i : i + _HEAD_CHUNK], reduction="none"
                    )
                    for i in range(0, hidden.shape[0], _HEAD_CHUNK)
                ]
            )
            if hidden.shape[0]
            else hidden.new_zeros(0, dtype=torch.float32)
        )
    full_mask = torch.zeros_like(batch.labels, dtype=torch.bool, device=device)
    full_mask[:, 1:] = mask
    return losses, full_mask


def token_losses(model, batch: PackedBatch) -> torch.Tensor:
    """``[B, T]`` per-token losses, NaN where a token is not scored (for tests and analysis)."""
    losses, mask = scored_losses(model, batch)
    out = torch.full(mask.shape, float("nan"), device=mask.device)
    out[mask] = losses
    return out.cpu()


def loss_over_batches(model, packed: Iterable[PackedBatch], *, desc: str | None = None) -> tuple[float, int]:
    """Token-weighted mean loss (nats/token) and the number of tokens scored."""
    total, count = 0.0, 0
    for batch in tqdm(packed, desc=desc, unit="batch", leave=False, disable=desc is None):
        losses, _ = scored_losses(model, batch)
        total += float(losses.double().sum())
        count += int(losses.numel())
    return (total / count if count else float("nan")), count


def domain_losses(
    model,
    tokenizer,
    docs_by_domain: dict[str, list[str]],
    *,
    eos_token_id: int,
    pad_token_id: int,
    seq_len: int,
    batch_size: int,
    max_tokens_per_domain: int | None,
    label: str = "",
) -> list[dict]:
    """Eval rows ``loss/<domain>`` (loss, perplexity) plus the token-weighted ``loss/all``."""
    rows: list[dict] = []
    grand_total, grand_count = 0.0, 0
    for domain, texts in docs_by_domain.items():
        docs = tokenize_documents(tokenizer, texts, eos_token_id=eos_token_id)
        windows = pack_documents(docs, seq_len=seq_len, max_tokens=max_tokens_per_domain)
        packed = batches(windows, seq_len=seq_len, batch_size=batch_size, pad_id=pad_token_id)
        loss, count = loss_over_batches(model, packed, desc=f"{label} loss/{domain}")
        grand_total += loss * count if count else 0.0
        grand_count += count
        rows += _loss_rows(f"loss/{domain}", loss, count)
    if len(docs_by_domain) > 1 and grand_count:
        rows += _loss_rows("loss/all", grand_total / grand_count, grand_count)
    return rows


def _loss_rows(task: str, loss: float, count: int) -> list[dict]:
    perplexity = math.exp(loss) if count and loss < 700 else float("nan")
    return [
        {"task": task, "metric": "loss", "value": loss, "n": count},
        {"task": task, "metric": "perplexity", "value": perplexity, "n": count},
    ]

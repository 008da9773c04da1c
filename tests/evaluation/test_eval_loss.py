"""Held-out loss: packing as in training, and token-weighted means that match a direct computation."""

from __future__ import annotations

import math

import torch
from conftest import DOMAINS

from evaluation.loss import domain_losses, token_losses
from evaluation.packing import batches, pack_documents, tokenize_documents, window_tensors


def _docs(tokenizer, texts):
    return list(tokenize_documents(tokenizer, texts, eos_token_id=tokenizer.eos_token_id))


def test_window_labels_and_positions_reset_at_document_starts():
    input_ids, labels, positions = window_tensors([5, 6, 7, 8, 9], [1, 0, 0, 1, 0], seq_len=7, pad_id=1)
    assert positions.tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert labels.tolist() == [-100, 6, 7, -100, 9, -100, -100]
    assert input_ids.tolist() == [5, 6, 7, 8, 9, 1, 1]


def test_pack_documents_cuts_windows_and_caps_tokens():
    docs = [[1] * 5, [2] * 5, [3] * 5]
    windows = list(pack_documents(docs, seq_len=4))
    assert [len(ids) for ids, _ in windows] == [4, 4, 4, 3]
    assert windows[1] == ([1, 2, 2, 2], [0, 1, 0, 0])
    capped = list(pack_documents(docs, seq_len=4, max_tokens=7))
    assert sum(len(ids) for ids, _ in capped) == 7


def test_doc_loss_is_independent_of_its_neighbours(tokenizer, loaded_base):
    model = loaded_base.model
    a, b, c = _docs(tokenizer, [DOMAINS["math"][0], DOMAINS["code"][0], DOMAINS["general"][1]])
    alone = next(batches(pack_documents([a], seq_len=256), seq_len=256, batch_size=1, pad_id=1))
    packed = next(batches(pack_documents([b, a, c], seq_len=256), seq_len=256, batch_size=1, pad_id=1))
    loss_alone = token_losses(model, alone)[0, : len(a)]
    loss_packed = token_losses(model, packed)[0, len(b) : len(b) + len(a)]
    assert torch.isnan(loss_packed[0])  # the document's first token is never scored
    torch.testing.assert_close(loss_packed, loss_alone, equal_nan=True, rtol=1e-4, atol=1e-5)
    # Control: without the position reset the same tokens see their neighbour, and the loss moves.
    leaky = type(packed)(packed.input_ids, packed.labels, torch.arange(256)[None])
    loss_leaky = token_losses(model, leaky)[0, len(b) + 1 : len(b) + len(a)]
    assert not torch.allclose(loss_leaky, loss_alone[1:], rtol=1e-4, atol=1e-5)


def test_token_weighted_loss_matches_direct_computation(tokenizer, loaded_base):
    model = loaded_base.model
    texts = {"math": DOMAINS["math"], "code": DOMAINS["code"]}
    rows = domain_losses(
        model,
        tokenizer,
        texts,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        seq_len=512,
        batch_size=2,
        max_tokens_per_domain=None,
    )
    got = {(r["task"], r["metric"]): (r["value"], r["n"]) for r in rows}
    grand_sum, grand_n = 0.0, 0
    for domain, domain_texts in texts.items():
        total, count = 0.0, 0
        for ids in _docs(tokenizer, domain_texts):  # each document alone, HF's own mean loss
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids]))
            total += float(out.loss) * (len(ids) - 1)
            count += len(ids) - 1
        value, n = got[(f"loss/{domain}", "loss")]
        assert n == count
        assert math.isclose(value, total / count, rel_tol=1e-5)
        assert math.isclose(got[(f"loss/{domain}", "perplexity")][0], math.exp(total / count), rel_tol=1e-5)
        grand_sum, grand_n = grand_sum + total, grand_n + count
    # the overall loss weighs domains by tokens, not a mean of domain means
    assert math.isclose(got[("loss/all", "loss")][0], grand_sum / grand_n, rel_tol=1e-5)


def test_domain_loss_weights_batches_by_scored_tokens_not_batch_means(tokenizer, loaded_base):
    """A domain over several batches with unequal scored-token counts (the last batch is short).

    The right loss is sum(token losses) / num scored tokens over all batches; the mean of the
    per-batch means differs here by construction, and the test checks the two do differ.
    """
    model = loaded_base.model
    texts = [" ".join(DOMAINS["general"] * 2), DOMAINS["math"][0], DOMAINS["code"][1][:30]]
    docs = _docs(tokenizer, texts)
    seq_len, batch_size = 32, 2
    num_tokens = sum(len(d) for d in docs)
    assert num_tokens % (seq_len * batch_size) not in (0,) and num_tokens > 3 * seq_len * batch_size
    sums, counts = [], []
    for batch in batches(
        pack_documents(docs, seq_len=seq_len), seq_len=seq_len, batch_size=batch_size, pad_id=1
    ):
        losses = token_losses(model, batch)
        scored = ~torch.isnan(losses)
        sums.append(float(losses[scored].double().sum()))
        counts.append(int(scored.sum()))
    assert len(counts) >= 3 and min(counts) < max(counts) / 2  # unequal batches: the case that matters
    token_weighted = sum(sums) / sum(counts)
    mean_of_batch_means = sum(s / c for s, c in zip(sums, counts, strict=True)) / len(counts)
    # the two aggregations differ here (a random model's losses are close: ~1e-5 relative), by far
    # more than the tolerance below, so a batch-mean average fails this test
    assert abs(token_weighted - mean_of_batch_means) > 1e-6 * token_weighted
    rows = domain_losses(
        model,
        tokenizer,
        {"general": texts},
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        seq_len=seq_len,
        batch_size=batch_size,
        max_tokens_per_domain=None,
    )
    loss = next(r for r in rows if r["task"] == "loss/general" and r["metric"] == "loss")
    assert loss["n"] == sum(counts)
    assert math.isclose(loss["value"], token_weighted, rel_tol=1e-9)

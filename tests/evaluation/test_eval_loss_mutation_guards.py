"""Held-out loss guards that mutation testing (scripts/mutation.sh eval_loss) showed missing: a
domain with nothing to score is NaN with n = 0 and does not poison the token-weighted overall loss."""

from __future__ import annotations

import math

from conftest import DOMAINS

from evaluation.loss import domain_losses, loss_over_batches


def test_no_batches_give_nan_loss_and_zero_tokens(loaded_base):
    loss, count = loss_over_batches(loaded_base.model, [])
    assert math.isnan(loss) and count == 0


def test_an_empty_domain_is_nan_and_left_out_of_the_overall_loss(tokenizer, loaded_base):
    kwargs = dict(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        seq_len=256,
        batch_size=2,
        max_tokens_per_domain=None,
    )
    rows = domain_losses(loaded_base.model, tokenizer, {"math": DOMAINS["math"], "code": []}, **kwargs)
    got = {(r["task"], r["metric"]): (r["value"], r["n"]) for r in rows}
    math_loss, math_n = got[("loss/math", "loss")]
    assert math_n > 0 and math.isfinite(math_loss)
    code_loss, code_n = got[("loss/code", "loss")]
    assert code_n == 0 and math.isnan(code_loss) and math.isnan(got[("loss/code", "perplexity")][0])
    all_loss, all_n = got[("loss/all", "loss")]
    assert all_n == math_n and math.isclose(all_loss, math_loss, rel_tol=1e-12)
    # one domain: no loss/all row
    single = domain_losses(loaded_base.model, tokenizer, {"math": DOMAINS["math"]}, **kwargs)
    assert {r["task"] for r in single} == {"loss/math"}


def _head_inputs(model, batch) -> list[tuple[int, ...]]:
    """Shapes the lm head was called with while scoring ``batch``."""
    from evaluation.loss import scored_losses

    shapes = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda m, args, out: shapes.append(tuple(args[0].shape))
    )
    try:
        losses, mask = scored_losses(model, batch)
    finally:
        hook.remove()
    assert losses.numel() == int(mask.sum())
    return shapes


def _one_batch(tokenizer):
    from evaluation.packing import batches, pack_documents, tokenize_documents

    docs = list(tokenize_documents(tokenizer, DOMAINS["math"][:3], eos_token_id=tokenizer.eos_token_id))
    return next(batches(pack_documents(docs, seq_len=64), seq_len=64, batch_size=2, pad_id=1))


def test_lm_head_runs_only_on_scored_positions(tokenizer, loaded_base):
    batch = _one_batch(tokenizer)
    scored = int((batch.labels[:, 1:] != -100).sum())
    hidden = loaded_base.model.config.hidden_size
    assert _head_inputs(loaded_base.model, batch) == [(scored, hidden)]  # not [B, T, H]


def test_post_processed_logits_take_the_plain_logits_path(tokenizer, loaded_base):
    """Soft-capped or scaled logits are not lm_head(hidden): the model's own forward must run."""
    model, batch = loaded_base.model, _one_batch(tokenizer)
    for attr, value in (("final_logit_softcapping", 30.0), ("logit_scale", 0.5)):
        old = getattr(model.config, attr, None)
        setattr(model.config, attr, value)
        try:
            assert _head_inputs(model, batch) == [(2, 64, model.config.hidden_size)], attr
        finally:
            setattr(model.config, attr, old)


def test_a_head_that_is_not_a_plain_linear_takes_the_model_forward(tokenizer, loaded_base):
    """Only an ``nn.Linear`` head is assumed to give logits = head(hidden) on scored rows; any other
    head module (adapters, quantized or wrapped heads) is left to the model's own forward."""
    import torch

    class WrappedHead(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, hidden):
            return self.inner(hidden)

    model, batch = loaded_base.model, _one_batch(tokenizer)
    plain = model.get_output_embeddings()
    model.set_output_embeddings(WrappedHead(plain))
    try:
        assert _head_inputs(model, batch) == [(2, 64, model.config.hidden_size)]
    finally:
        model.set_output_embeddings(plain)
    assert _head_inputs(model, batch)[0][0] < 2 * 64  # the plain head is back on the fast path

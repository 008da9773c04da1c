"""Loader guards that mutation testing (scripts/mutation.sh loader) showed missing: a plan source that
draws nothing, ``loss_mask: all`` on a source without a mask, ``position_ids: sequence``."""

import warnings

import pytest

from training.data import PlanLoader
from training.trainer.testing import write_test_plan, write_tiny_workspace


def _loader(tmp_path, phases, **kw):
    sources = {"web": "general", "code": "code"}
    tokens, _ = write_tiny_workspace(tmp_path, sources=sources, phases=[{"web": 8, "code": 8}], seq_len=16)
    plan = write_test_plan(tmp_path / "plan2.parquet", sources, phases, [16] * len(phases))
    import polars as pl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PlanLoader(tokens, pl.read_parquet(plan), micro_batch_size=4, **kw)


def test_summary_lists_a_source_that_draws_nothing_with_zero_epochs(tmp_path):
    loader = _loader(tmp_path, [{"web": 8, "code": 0}])
    summary = loader.summary()
    code = summary.filter(summary["source"] == "code").row(0, named=True)
    assert code["num_sequences"] == 0 and code["num_tokens"] == 0 and code["epochs"] == 0.0
    web = summary.filter(summary["source"] == "web").row(0, named=True)
    assert web["num_tokens"] == 8 * 16 and web["epochs"] > 0
    assert {b for batch in loader for b in batch.sources} == {"web"}


def test_loss_mask_all_needs_no_mask_file_and_masks_only_document_starts(tmp_path):
    loader = _loader(tmp_path, [{"web": 8, "code": 8}], loss_mask={"web": "all", "code": "all"})
    for batch in loader:
        assert ((batch.labels == -100) == (batch.position_ids == 0)).all()
    with pytest.raises(ValueError, match=r"data\.loss_mask\.web: 'response' needs a loss mask"):
        _loader(tmp_path / "again", [{"web": 8, "code": 8}], loss_mask={"web": "response"})


def test_sequence_positions_run_across_documents_but_starts_stay_unscored(tmp_path):
    import torch

    doc = _loader(tmp_path, [{"web": 8, "code": 8}])
    seq = _loader(tmp_path / "b", [{"web": 8, "code": 8}], position_ids="sequence")
    mid_row_starts = 0
    for a, b in zip(doc, seq, strict=True):
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
        assert (b.position_ids == torch.arange(16)).all()
        mid_row_starts += int((a.position_ids[:, 1:] == 0).sum())
    assert mid_row_starts > 0  # documents do start mid-row: the two modes differ


def test_document_curriculum_streams_each_window_easiest_first(tmp_path):
    """curriculum: documents with a ``.ds.difficulty`` file: the documents a phase draws come
    sorted by difficulty (each document's tokens here equal its difficulty, so starts show it)."""
    import numpy as np
    import polars as pl

    from training.trainer.testing import write_shard, write_tokenizer

    rng = np.random.default_rng(0)
    values = rng.permutation(np.arange(1, 61))  # 60 documents, difficulty 1..60
    docs = [np.append(np.full(int(rng.integers(4, 12)), v), 255) for v in values]
    tokens = tmp_path / "tokens"
    write_tokenizer(tokens / "tokenizer.json", 256)
    write_shard(tokens / "web", docs)
    values.astype("<f4").tofile(tokens / "web" / "000.ds.difficulty")
    plan = pl.read_parquet(
        write_test_plan(tmp_path / "plan.parquet", {"web": "general"}, [{"web": 20}], [16])
    )

    def starts(curriculum):
        loader = PlanLoader(tokens, plan, micro_batch_size=4, curriculum=curriculum)
        out = []
        for batch in loader:
            out += batch.input_ids[batch.position_ids == 0].tolist()
        return [v for v in out if v != 255]

    ordered = starts("documents")
    assert len(ordered) > 10 and ordered == sorted(ordered)
    assert starts("off") != sorted(starts("off"))  # control: without the curriculum, random order


def test_a_batch_moved_to_a_device_keeps_its_rows_sources_domains_and_phase(tmp_path):
    """The trainer moves every micro-batch with ``Batch.to``; per-domain loss reads ``domains`` after it."""
    import torch

    batch = next(iter(_loader(tmp_path, [{"web": 8, "code": 8}])))
    moved = batch.to("cpu")
    for key in ("input_ids", "labels", "position_ids"):
        assert torch.equal(getattr(moved, key), getattr(batch, key)), key
    assert moved.sources == batch.sources and moved.domains == batch.domains and moved.phase == batch.phase
    assert set(moved.domains) <= {"general", "code"} and len(moved.domains) == len(moved.sources)

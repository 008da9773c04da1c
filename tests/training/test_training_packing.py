"""Packing options: position ids restart per document (default) or run across the packed sequence,
per plan phase; the trained tokens are the same either way."""

import numpy as np
import polars as pl
import pytest
import torch

from training.data import PlanLoader
from training.trainer import train
from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace

PHASES = [{"web": 8, "code": 8}, {"web": 8, "code": 8}]


def _batches(tokens, plan, **kw):
    return list(PlanLoader(tokens, plan, micro_batch_size=4, **kw))


def test_sequence_positions_run_across_documents_only_in_the_chosen_phase(tmp_path):
    tokens, plan_path = write_tiny_workspace(tmp_path, phases=PHASES)
    plan = pl.read_parquet(plan_path)
    doc = _batches(tokens, plan)
    mixed = _batches(tokens, plan, position_ids={0: "document", 1: "sequence"})
    assert len(doc) == len(mixed) == 8
    for a, b in zip(doc, mixed, strict=True):
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
        if a.phase == 0:
            assert torch.equal(a.position_ids, b.position_ids)
        else:
            assert torch.equal(b.position_ids, torch.arange(32).expand(4, 32))
    # document mode really restarts inside sequences (otherwise the test shows nothing)
    assert any((b.position_ids[:, 1:] == 0).any() for b in doc)
    every = _batches(tokens, plan, position_ids="sequence")
    assert all(torch.equal(b.position_ids, torch.arange(32).expand(4, 32)) for b in every)


def test_a_sequence_phase_changes_the_loss_of_that_phase_only(tmp_path):
    write_tiny_workspace(tmp_path, phases=PHASES)
    doc = train(tiny_train_config(tmp_path, run_dir=tmp_path / "doc"))
    seq = train(
        tiny_train_config(tmp_path, run_dir=tmp_path / "seq", data={"position_ids_by_phase": {1: "sequence"}})
    )
    a, b = read_metrics(doc.metrics_path), read_metrics(seq.metrics_path)
    assert [r["phase"] for r in a] == [0, 0, 1, 1]
    assert [r["loss"] for r in a[:2]] == [r["loss"] for r in b[:2]]  # phase 0: bit-identical
    assert not np.isclose(a[2]["loss"], b[2]["loss"], rtol=0, atol=1e-7)  # attention now crosses docs


def test_an_unknown_phase_is_one_error_naming_the_phases(tmp_path):
    write_tiny_workspace(tmp_path, phases=PHASES)
    cfg = tiny_train_config(tmp_path, data={"position_ids_by_phase": {5: "sequence"}})
    with pytest.raises(
        ValueError, match=r"data.position_ids_by_phase: phase\(s\) \[5\] are not in .* \[0, 1\]"
    ):
        train(cfg)
    with pytest.raises(ValueError, match="position_ids"):
        tiny_train_config(tmp_path, data={"position_ids": "packed"})

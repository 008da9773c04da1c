"""PlanLoader: plan counts per phase, packing, labels, DP sharding, epochs, exact resume, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from training.data import PlanLoader, greedy_blend

EOS = 0


def write_source(folder: Path, doc_lens: list[int], *, doc_id_base: int, num_shards: int = 2) -> None:
    """Synthetic shards: doc d = [id(d), id(d)+1, ..., EOS]; ids never hit EOS inside a document."""
    folder.mkdir(parents=True)
    for s in range(num_shards):
        docs = [
            np.append(np.arange(1, n) + doc_id_base + d * 100, EOS).astype("<u2")
            for d, n in enumerate(doc_lens)
            if d % num_shards == s
        ]
        (folder / f"{s:05d}_unshuffled.ds").write_bytes(np.concatenate(docs).tobytes())
        ends = np.cumsum([len(x) for x in docs]).astype("<u8")
        (folder / f"{s:05d}_unshuffled.ds.index").write_bytes(ends.tobytes())


def make_plan(rows: list[tuple]) -> pl.DataFrame:
    cols = ["phase", "source", "domain", "num_sequences", "share", "order", "seq_len"]
    plan = pl.DataFrame(rows, schema=cols, orient="row")
    return plan.with_columns(phase_start_step=pl.lit(0), phase_end_step=pl.lit(1))


PLAN = make_plan(
    [
        (0, "web", "general", 30, 0.75, 0, 16),
        (0, "gsm", "math", 10, 0.25, 1, 16),
        (1, "web", "general", 8, 0.25, 1, 32),
        (1, "gsm", "math", 16, 0.5, 0, 32),
        (1, "py", "code", 8, 0.25, 2, 32),
    ]
)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tokens")
    rng = np.random.default_rng(0)
    write_source(root / "web", rng.integers(2, 40, 40).tolist(), doc_id_base=1000)
    write_source(
        root / "gsm", rng.integers(2, 12, 25).tolist() + [70], doc_id_base=20000
    )  # one doc > seq_len
    write_source(root / "py", rng.integers(2, 30, 10).tolist(), doc_id_base=40000, num_shards=1)
    return root


def loader(tokens: Path, plan: pl.DataFrame = PLAN, **kw) -> PlanLoader:
    kw.setdefault("micro_batch_size", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PlanLoader(tokens, plan, **kw)


def rows(batches) -> list[tuple[int, str, tuple]]:
    return [
        (b.phase, s, tuple(r.tolist())) for b in batches for s, r in zip(b.sources, b.input_ids, strict=True)
    ]


def test_greedy_blend_matches_reference_and_exact_counts():
    # REFERENCE.md section 4: W = [0.5, 0.3, 0.2] over 10 samples.
    assert greedy_blend(np.array([0.5, 0.3, 0.2]), np.array([5, 3, 2])).tolist() == [
        0,
        1,
        2,
        0,
        1,
        0,
        2,
        0,
        1,
        0,
    ]
    # Ties go to the source first in curriculum order; capped counts are exact even when shares disagree.
    assert greedy_blend(np.array([0.5, 0.5]), np.array([2, 2])).tolist() == [0, 1, 0, 1]
    out = greedy_blend(np.array([0.9, 0.1]), np.array([3, 7]))
    assert np.bincount(out).tolist() == [3, 7]


def test_follows_plan_counts_phases_and_seq_len(tokens):
    batches = list(loader(tokens))
    assert [b.phase for b in batches] == sorted(b.phase for b in batches)  # phases in order, never mixed
    got = pl.DataFrame(
        [(b.phase, s, d) for b in batches for s, d in zip(b.sources, b.domains, strict=True)],
        schema=["phase", "source", "domain"],
        orient="row",
    )
    counts = got.group_by("phase", "source", "domain").len().sort("phase", "source")
    expected = PLAN.select("phase", "source", "domain", pl.col("num_sequences").cast(pl.UInt32).alias("len"))
    assert counts.equals(expected.sort("phase", "source"))
    assert {tuple(b.input_ids.shape[1:]) for b in batches if b.phase == 0} == {(16,)}
    assert {tuple(b.input_ids.shape[1:]) for b in batches if b.phase == 1} == {(32,)}
    assert all(b.input_ids.dtype == b.labels.dtype == b.position_ids.dtype == torch.long for b in batches)
    # Interleaving within phase 0 is the greedy order over shares 0.75/0.25.
    phase0 = [s for b in batches if b.phase == 0 for s in b.sources]
    assert phase0[:8] == ["web", "gsm", "web", "web", "web", "gsm", "web", "web"]


def test_curriculum_streams_sources_in_order(tokens):
    batches = list(loader(tokens, follow_curriculum=True))
    phase1 = [s for b in batches if b.phase == 1 for s in b.sources]
    assert phase1 == ["gsm"] * 16 + ["web"] * 8 + ["py"] * 8


def test_packing_positions_reset_at_document_starts_and_labels_masked(tokens):
    batches = list(loader(tokens))
    saw_split = saw_multi = False
    for b in batches:
        ids, pos, labels = b.input_ids, b.position_ids, b.labels
        after_eos = ids[:, :-1] == EOS
        # A position restarts exactly after an EOS, and counts up by one otherwise.
        assert torch.equal(pos[:, 1:] == 0, after_eos)
        assert torch.equal(pos[:, 1:][~after_eos], pos[:, :-1][~after_eos] + 1)
        # Synthetic layout: token at position p of doc d is base + 100 d + p + 1, so this holds only
        # if every token sits at its true offset in its document, split documents included.
        body = ids != EOS
        assert ((ids - pos)[body] % 100 == 1).all()
        assert torch.equal(labels == -100, pos == 0)
        assert torch.equal(labels[pos != 0], ids[pos != 0])
        saw_multi |= bool((pos[:, 1:] == 0).sum(dim=1).gt(1).any())
        saw_split |= bool((pos[:, 0] >= 16).any())  # a document longer than seq_len continues
    assert saw_multi and saw_split


def test_long_document_positions_continue_across_sequences(tmp_path):
    write_source(tmp_path / "long", [50], doc_id_base=100, num_shards=1)
    plan = make_plan([(0, "long", "general", 4, 1.0, 0, 16)])
    batch = next(iter(loader(tmp_path, plan, micro_batch_size=4)))
    flat = batch.position_ids.flatten().tolist()
    assert flat[:50] == list(range(50)) and flat[50] == 0  # 50-token doc, then the next epoch's start
    assert batch.labels.flatten()[[0, 50]].tolist() == [-100, -100]


def test_dp_ranks_partition_the_global_sequence_order(tokens):
    single = rows(loader(tokens, micro_batch_size=1))
    for world in (2, 3):
        shards = [
            rows(loader(tokens, dp_rank=r, dp_world_size=world, micro_batch_size=2)) for r in range(world)
        ]
        for r, got in enumerate(shards):
            assert got == single[r::world]  # global sequence i goes to rank i % world
        assert sorted(x for s in shards for x in s) == sorted(single)


def test_epochs_wrap_with_reshuffled_order(tmp_path):
    doc_lens = [4] * 12  # 48 tokens per epoch, 3 sequences of 16
    write_source(tmp_path / "small", doc_lens, doc_id_base=100, num_shards=3)
    plan = make_plan([(0, "small", "general", 9, 1.0, 0, 16)])
    ld = loader(tmp_path, plan, micro_batch_size=3, seed=1)
    batches = list(ld)
    assert ld.epochs() == {"small": 3.0}
    epochs = [b.input_ids.flatten()[b.position_ids.flatten() == 0].tolist() for b in batches]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)  # every doc once per epoch
    assert len({tuple(e) for e in epochs}) == 3  # ...in a new order each epoch
    other = list(loader(tmp_path, plan, micro_batch_size=3, seed=2))
    assert rows(other) != rows(batches) and rows(loader(tmp_path, plan, micro_batch_size=3, seed=1)) == rows(
        batches
    )


@pytest.mark.parametrize(("world", "rank", "stop"), [(1, 0, 7), (2, 1, 3), (1, 0, 14)])
def test_exact_resume_mid_phase(tokens, world, rank, stop):
    full = loader(tokens, dp_rank=rank, dp_world_size=world, micro_batch_size=3)
    assert len(full) == len(list(loader(tokens, dp_rank=rank, dp_world_size=world, micro_batch_size=3)))
    it = iter(full)
    head = [next(it) for _ in range(stop)]
    state = full.state_dict()
    epochs = full.epochs()
    rest_uninterrupted = list(it)
    resumed = loader(tokens, dp_rank=rank, dp_world_size=world, micro_batch_size=3)
    resumed.load_state_dict(state)
    assert resumed.epochs() == epochs
    rest = list(resumed)
    assert len(head) + len(rest) == len(full)
    assert rows(rest) == rows(rest_uninterrupted)
    for a, b in zip(rest, rest_uninterrupted, strict=True):
        assert torch.equal(a.labels, b.labels) and torch.equal(a.position_ids, b.position_ids)
    with pytest.raises(ValueError, match="seed was 0 when saved, now 5"):
        loader(tokens, dp_rank=rank, dp_world_size=world, micro_batch_size=3, seed=5).load_state_dict(state)


def test_sizes_and_steps(tokens):
    ld = loader(tokens, micro_batch_size=4)
    assert ld.num_sequences_total == 72
    assert ld.steps_for(8) == 5 + 4 and ld.steps_for(16) == 3 + 2
    assert len(ld) == 10 + 8
    summary = ld.summary()
    assert summary["num_tokens"].sum() == 40 * 16 + 32 * 32
    with pytest.warns(UserWarning, match="is not a multiple") as record:
        PlanLoader(tokens, PLAN, micro_batch_size=3)
    assert "phase 0: 40 sequences is not a multiple of micro_batch_size x dp_world_size = 3" in str(
        record[0].message
    )


def test_errors_before_first_step(tokens, tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokens folder"):
        loader(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="no token shards for plan source 'wiki'"):
        loader(tokens, PLAN.with_columns(source=pl.col("source").replace({"py": "wiki"})))
    loader(
        tokens, PLAN.with_columns(source=pl.col("source").replace({"py": "wiki"}), num_sequences=0)
    )  # unused: ok
    broken = tmp_path / "broken"
    write_source(broken / "web", [5, 6], doc_id_base=1, num_shards=2)
    (broken / "web" / "00001_unshuffled.ds").unlink()
    plan = make_plan([(0, "web", "general", 1, 1.0, 0, 4)])
    with pytest.raises(FileNotFoundError, match="00001_unshuffled.ds: shard missing"):
        loader(broken, plan)
    (broken / "web" / "00001_unshuffled.ds.index").unlink()
    (broken / "web" / "00000_unshuffled.ds.index").unlink()
    with pytest.raises(FileNotFoundError, match="index missing for shard 00000_unshuffled.ds"):
        loader(broken, plan)
    (tmp_path / "emptysrc" / "web").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no \*.ds shard for plan source 'web'"):
        loader(tmp_path / "emptysrc", plan)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['seq_len'\]"):
        loader(tokens, PLAN.drop("seq_len"))
    with pytest.raises(ValueError, match="several seq_len"):
        loader(tokens, PLAN.with_columns(seq_len=pl.int_range(pl.len()) + 8))
    with pytest.raises(ValueError, match="dp_rank must be in"):
        loader(tokens, dp_rank=2, dp_world_size=2)
    ld = loader(tokens)
    ld.check_vocab(60000)
    with pytest.raises(ValueError, match=r"token id \d+ >= model vocab_size 30000"):
        ld.check_vocab(30000)

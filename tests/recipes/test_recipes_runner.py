"""The stage runner: skip finished stages, re-run what a changed key affects, survive a kill."""

from pathlib import Path

import pytest

from recipes.runner import RunDir, Stage, run_stages, stage_key


def _stages(root: Path, calls: list[str], *, curate_cfg: int = 1, fail_in: str | None = None):
    def make(name: str):
        def run(out: Path) -> list[Path]:
            calls.append(name)
            (out / "part.txt").write_text(name)
            if name == fail_in:
                raise RuntimeError(f"killed in {name}")
            (out / "done.txt").write_text(name)
            return [out / "done.txt"]

        return run

    corpus_key = stage_key("corpus", 0)
    curate_key = stage_key("curate", curate_cfg, corpus_key)
    tokens_key = stage_key("tokenize", curate_key)
    return [
        Stage("corpus", "corpus", corpus_key, root / "corpus", make("corpus")),
        Stage("curate", "curate", curate_key, root / "curate", make("curate")),
        Stage("tokenize", "tokenize", tokens_key, root / "tokens", make("tokenize")),
    ]


def test_rerun_skips_finished_stages(tmp_path):
    calls: list[str] = []
    run_dir = RunDir(tmp_path)
    run_stages(_stages(tmp_path, calls), run_dir, log=lambda m: None)
    assert calls == ["corpus", "curate", "tokenize"]
    records = run_stages(_stages(tmp_path, calls), run_dir, log=lambda m: None)
    assert calls == ["corpus", "curate", "tokenize"]
    assert [r.status for r in records] == ["skipped"] * 3


def test_changed_key_reruns_only_affected_stages(tmp_path):
    calls: list[str] = []
    run_dir = RunDir(tmp_path)
    run_stages(_stages(tmp_path, calls), run_dir, log=lambda m: None)
    calls.clear()
    run_stages(_stages(tmp_path, calls, curate_cfg=2), run_dir, log=lambda m: None)
    assert calls == ["curate", "tokenize"]  # corpus untouched, downstream of curate re-run


def test_killed_stage_leaves_no_complete_looking_output_and_resumes(tmp_path):
    calls: list[str] = []
    run_dir = RunDir(tmp_path)
    with pytest.raises(RuntimeError, match="killed in curate"):
        run_stages(_stages(tmp_path, calls, fail_in="curate"), run_dir, log=lambda m: None)
    assert not (tmp_path / "curate").exists()  # only a .partial folder, never the real name
    assert run_dir.finished_key("curate") is None
    calls.clear()
    run_stages(_stages(tmp_path, calls), run_dir, log=lambda m: None)
    assert calls == ["curate", "tokenize"]  # corpus was finished and is not redone
    assert (tmp_path / "curate" / "done.txt").read_text() == "curate"
    assert not (tmp_path / ".curate.partial").exists()


def test_from_and_until_bound_the_stages(tmp_path):
    calls: list[str] = []
    run_dir = RunDir(tmp_path)
    run_stages(_stages(tmp_path, calls), run_dir, until_stage="curate", log=lambda m: None)
    assert calls == ["corpus", "curate"]
    calls.clear()
    run_stages(_stages(tmp_path, calls), run_dir, from_stage="curate", log=lambda m: None)
    assert calls == ["curate", "tokenize"]
    with pytest.raises(ValueError, match="unknown stage"):
        run_stages(_stages(tmp_path, calls), run_dir, from_stage="nope", log=lambda m: None)


def test_dry_run_runs_nothing(tmp_path):
    calls: list[str] = []
    records = run_stages(_stages(tmp_path, calls), RunDir(tmp_path), dry_run=True, log=lambda m: None)
    assert calls == [] and [r.status for r in records] == ["planned"] * 3


def _resumable_stage(root: Path, key: str, calls: list[str]) -> Stage:
    def run(out: Path) -> list[Path]:
        calls.append(sorted(p.name for p in out.iterdir() if p.name != ".stage_key"))
        (out / "checkpoint").write_text(key)
        return [out / "checkpoint"]

    return Stage("train.x", "train", key, root / "train", run, atomic=False)


def test_in_place_stage_resumes_same_key_but_restarts_on_a_changed_key(tmp_path):
    calls: list = []
    run_dir = RunDir(tmp_path)
    stage = _resumable_stage(tmp_path, "k1", calls)
    # An interrupted run under the same key leaves its checkpoint: the rerun sees it (resumes).
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / ".stage_key").write_text("k1")
    (tmp_path / "train" / "checkpoint").write_text("k1-partial")
    run_stages([stage], run_dir, log=lambda m: None)
    assert calls[-1] == ["checkpoint"]
    # A changed key must not resume from the old run's checkpoints.
    run_stages([_resumable_stage(tmp_path, "k2", calls)], run_dir, log=lambda m: None)
    assert calls[-1] == []
    assert (tmp_path / "train" / "checkpoint").read_text() == "k2"

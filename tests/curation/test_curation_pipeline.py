"""End to end on a tiny corpus: outputs, cross-source dedup, decont, resume, Slurm and Ray executors."""

import gzip
import json
import os
import random
import stat
from pathlib import Path

import pytest

from curation import CurationConfig, run_curation
from curation.schema import INVENTORY_COLUMNS

WORDS = [
    "the",
    "river",
    "city",
    "market",
    "school",
    "garden",
    "people",
    "morning",
    "winter",
    "library",
    "bridge",
    "music",
    "story",
    "village",
    "teacher",
    "window",
    "history",
    "doctor",
    "friend",
    "summer",
    "mountain",
    "road",
    "family",
    "museum",
    "lake",
    "forest",
    "island",
]
STOP = ("the", "and", "of", "to", "with", "that", "have", "be")


def _prose(rng: random.Random, sentences: int = 8) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) if i % 3 else rng.choice(STOP) for i in range(rng.randint(9, 14))]
        out.append(" ".join(words).capitalize() + ".")
    return "\n".join(" ".join(out[i : i + 2]) for i in range(0, len(out), 2))


def _corpus(root: Path) -> dict:
    rng = random.Random(0)
    trusted = [{"text": _prose(rng), "id": f"t{i}"} for i in range(30)]
    web = [{"text": _prose(rng), "id": f"w{i}"} for i in range(30)]
    web.append({"text": trusted[0]["text"].replace(" ", "  "), "id": "w-copy"})  # normalised copy of t0
    leak = "Janet has three apples and buys five more apples at the market on Sunday how many apples now"
    web.append({"text": _prose(rng) + "\n" + leak + ".", "id": "w-leak"})
    (root / "raw").mkdir(parents=True)
    with open(root / "raw" / "trusted.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in trusted)
    with open(root / "raw" / "web.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in web)
        f.write("{not json\n")
    (root / "eval.jsonl").write_text(json.dumps({"question": leak, "answer": "8"}) + "\n")
    return {
        "sources": [
            {"name": "web", "path": str(root / "raw" / "web.jsonl")},
            {"name": "trusted", "path": str(root / "raw" / "trusted.jsonl"), "domain": "general"},
        ],
        "dedup": {
            "num_buckets": 2,
            "hashes_per_bucket": 4,
            "n_grams": 3,
            "source_priority": ["trusted", "web"],
        },
        "decontamination": {
            "eval_sets": [{"name": "gsm8k", "path": str(root / "eval.jsonl"), "format": "gsm8k"}],
            "n": 8,
        },
        "filters": {"c4": {"min_num_sentences": 2}},
        "heldout": {"fraction": 0.1, "max_docs": 2},
        "executor": {"tasks": 2, "workers": 1},
    }


def _ids(folder: Path) -> list[str]:
    ids = []
    for f in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            ids += [json.loads(line)["id"] for line in fh]
    return ids


@pytest.mark.slow
def test_run_curation_end_to_end_and_resume(tmp_path):
    config = CurationConfig.model_validate(_corpus(tmp_path))
    out = tmp_path / "out"
    result = run_curation(config, out)
    inv = result.inventory
    assert set(INVENTORY_COLUMNS) <= set(inv.columns)
    assert inv["source"].to_list() == ["web", "trusted"]
    curated, heldout = _ids(out / "curated"), _ids(out / "heldout")
    assert "t0" in curated + heldout and "w-copy" not in curated + heldout  # trusted copy wins
    assert "w-leak" not in curated + heldout
    assert not set(curated) & set(heldout)
    assert len(_ids(out / "heldout" / "trusted")) == 2
    assert inv.filter(inv["source"] == "trusted")["num_docs"].item() == len(_ids(out / "curated" / "trusted"))
    assert inv["num_tokens_estimated"].all()
    with gzip.open(next((out / "curated" / "trusted").glob("*.jsonl.gz")), "rt") as fh:
        meta = json.loads(fh.readline())["metadata"]
    assert meta["domain"] == "general" and meta["domain_confidence"] == 1.0
    assert {"source", "difficulty_tier", "dedup_cluster_size"} <= set(meta)
    rejects = [json.loads(x) for f in (out / "rejects").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert [(r["reason"], r["line"]) for r in rejects] == [("malformed_json", 33)]
    read = next(s for s in result.funnel["steps"] if s["step"] == "read")
    assert read["dropped"] == 1 and result.funnel["by_source"]["web"]["dropped_decontamination"] == 1
    hits = (out / "reports" / "decontamination.jsonl").read_text()
    assert '"doc_id": "w-leak"' in hits and '"item_id": "1"' in hits
    assert (out / "reports" / "funnel.png").stat().st_size > 0
    clusters = [json.loads(x) for x in (out / "reports" / "dedup_clusters.jsonl").read_text().splitlines()]
    assert any(c["kept"]["doc_id"] == "t0" and c["removed"][0]["doc_id"] == "w-copy" for c in clusters)

    # a killed run: one write task lost its completion marker and half its shard; the report too
    work = result.work_dir
    (work / "logs" / "write" / "completions" / "00001").unlink()
    (work / "logs" / "report" / "completions" / "00000").unlink()
    shard = next((work / "curated" / "trusted").glob("00001.jsonl.gz"))
    shard.write_bytes(shard.read_bytes()[:40])
    again = run_curation(config, out)
    assert sorted(_ids(out / "curated")) == sorted(curated)
    assert again.inventory.equals(inv)
    assert len(list((out / "work").iterdir())) == 1  # same config: same work folder

    changed = config.model_copy(update={"heldout": config.heldout.model_copy(update={"seed": 7})})
    run_curation(changed, out)
    assert len(list((out / "work").iterdir())) == 2  # changed config: fresh work, no stale skips


def test_missing_key_fails_before_work(tmp_path):
    data = _corpus(tmp_path)
    data["sources"][1]["text_key"] = "body"
    with pytest.raises(ValueError, match=r"trusted\.jsonl:1: no key 'body'"):
        run_curation(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_slurm_executor_writes_launch_scripts(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\necho Submitted batch job 4242\n")
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    data = _corpus(tmp_path)
    data["executor"] = {"kind": "slurm", "tasks": 2, "slurm": {"time": "1:00:00", "partition": "cpu"}}
    result = run_curation(data, tmp_path / "out")
    assert result.launched
    scripts = sorted((result.work_dir / "logs").glob("*/launch_script.slurm"))
    assert [p.parent.name for p in scripts] == [
        "buckets",
        "cluster",
        "decont_index",
        "filter",
        "report",
        "write",
    ]
    text = (result.work_dir / "logs" / "write" / "launch_script.slurm").read_text()
    assert "#SBATCH --partition=cpu" in text and "launch_pickled_pipeline" in text


def test_ray_executor_runs_same_pipeline(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is an optional extra (midtrain[ray]); not installed here")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        data = _corpus(tmp_path)
        data["executor"] = {"kind": "ray", "tasks": 2, "workers": 2}
        result = run_curation(data, tmp_path / "out")
        assert result.inventory["num_docs"].sum() > 0
    finally:
        ray.shutdown()

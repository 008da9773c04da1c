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
        "dedup_index",  # this run's dedup_index/ for a later dedup.against
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
        data["executor"] = {"kind": "local", "tasks": 2, "workers": 1}
        local = run_curation(data, tmp_path / "local")
        data["executor"] = {"kind": "ray", "tasks": 2, "workers": 2}
        result = run_curation(data, tmp_path / "out")
    finally:
        ray.shutdown()

    def documents(out: Path) -> dict[str, list[tuple[str, str]]]:
        found = {}
        for part in ("curated", "heldout"):
            rows = []
            for f in sorted((out / part).rglob("*.jsonl.gz")):
                with gzip.open(f, "rt") as fh:
                    rows += [(r["id"], r["text"]) for r in map(json.loads, fh)]
            found[part] = sorted(rows)
        return found

    on_ray, on_local = documents(tmp_path / "out"), documents(tmp_path / "local")
    assert len(on_local["curated"]) > 20 and on_local["heldout"]  # the corpus leaves something to compare
    assert on_ray == on_local
    columns = [c for c in local.inventory.columns if c != "path"]  # path names the output folder
    assert (
        result.inventory.select(columns).sort("source").equals(local.inventory.select(columns).sort("source"))
    )
    assert result.funnel == local.funnel


# Slurm on one host, synchronously: sbatch runs each array task of the script at once (so every
# dependency is met by the time the next job is submitted) and srun runs its command.
FAKE_SBATCH = """#!{python}
import os, re, subprocess, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM"])
script = Path(sys.argv[-1]).read_text()
options = dict(re.findall(r"^#SBATCH --([\\w-]+)=(\\S+)$", script, re.M))
first, last = map(int, options.get("array", "0-0").split("-"))
counter = state / "last_job_id"
job_id = str(int(counter.read_text()) + 1 if counter.exists() else 500)
counter.write_text(job_id)
for task in range(first, last + 1):
    env = dict(os.environ, SLURM_JOB_ID=job_id, SLURM_ARRAY_JOB_ID=job_id, SLURM_ARRAY_TASK_ID=str(task),
               SLURM_NODELIST="localhost", SLURM_JOB_NODELIST="localhost", SLURM_NODEID="0",
               SLURM_NNODES="1", SLURM_PROCID="0", SLURM_LOCALID="0")
    log = Path(options["output"].replace("%A", job_id).replace("%a", str(task)))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        subprocess.run(["bash", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT)
print("Submitted batch job", job_id)
"""
FAKE_SRUN = """#!{python}
import os, sys
args = sys.argv[1:]
while args[0].startswith("-"):
    args = args[2:] if args[0] == "-n" else args[1:]
os.execvp(args[0], args)
"""


GONE = 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1'


def _fake_slurm(tmp_path, monkeypatch, *, squeue: str = GONE) -> Path:
    import sys

    bin_dir = tmp_path / "fake_slurm"
    bin_dir.mkdir()
    tools = {
        "sbatch": FAKE_SBATCH.format(python=sys.executable),
        "srun": FAKE_SRUN.format(python=sys.executable),
        "squeue": f"#!/bin/bash\n{squeue}\n",
        "scontrol": "#!/bin/bash\necho localhost\n",  # `scontrol show hostnames`: the only node
        "scancel": '#!/bin/bash\necho "$@" >> "$FAKE_SLURM/cancelled"\n',
    }
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("FAKE_SLURM", str(bin_dir))
    # launch_pickled_pipeline (datatrove's entry point) lives next to this interpreter.
    monkeypatch.setenv(
        "PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    return bin_dir


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_waiting_for_slurm_gives_the_same_curation_as_local(tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch)
    data = _corpus(tmp_path)
    data["executor"] = {"kind": "local", "tasks": 1}
    local = run_curation(data, tmp_path / "local")
    data["executor"] = {"kind": "slurm", "tasks": 1, "slurm": {"time": "1:00:00", "partition": "cpu"}}
    on_slurm = run_curation(data, tmp_path / "slurm", wait=True, poll_s=0.01)
    assert not on_slurm.launched
    columns = ["source", "num_docs", "num_tokens"]
    assert (
        on_slurm.inventory.select(columns)
        .sort("source")
        .equals(local.inventory.select(columns).sort("source"))
    )
    assert on_slurm.funnel == local.funnel
    recorded = json.loads((on_slurm.work_dir / "slurm_jobs.json").read_text())
    assert set(recorded) == {"decont_index", "filter", "buckets", "cluster", "write", "dedup_index", "report"}


@pytest.mark.timeout(60)
def test_a_stage_whose_ranks_did_not_finish_on_slurm_is_an_error(tmp_path, monkeypatch):
    from curation.slurm_wait import wait_for_jobs

    class Executor:  # what wait_for_jobs reads from datatrove's SlurmPipelineExecutor
        def __init__(self, job_id, incomplete):
            self.job_id, self.world_size, self._incomplete = job_id, 4, incomplete
            self.logging_dir = type("Folder", (), {"path": str(tmp_path / "logs")})()

        def get_incomplete_ranks(self):
            return self._incomplete

    # squeue lists job 7's array tasks on its first two polls, then the job has left the queue.
    polls = tmp_path / "polls"
    _fake_slurm(
        tmp_path,
        monkeypatch,
        squeue=f"echo x >> {polls}; if [ $(wc -l < {polls}) -le 2 ]; then echo 7_1; echo 7_[2-3]; "
        f"else {GONE}; fi",
    )
    messages = []
    with pytest.raises(
        RuntimeError, match=r"stage 'filter': ranks \[2, 3\] of 4 did not finish.*Rerun to resume"
    ):
        wait_for_jobs(
            {"decont_index": Executor(-1, []), "filter": Executor(7, [2, 3])},
            tmp_path,
            poll_s=0.01,
            log=messages.append,
        )
    assert len(polls.read_text().split()) == 3  # it waited while the job was queued
    assert "filter 2/4" in messages[0]
    assert json.loads((tmp_path / "slurm_jobs.json").read_text()) == {"filter": "7"}


@pytest.mark.timeout(120)
def test_a_rerun_while_the_curation_jobs_are_queued_is_refused(tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch, squeue="echo 41_3")
    data = _corpus(tmp_path)
    data["executor"] = {"kind": "slurm", "tasks": 1, "slurm": {"time": "1:00:00", "partition": "cpu"}}
    first = run_curation(data, tmp_path / "out")  # submits without waiting (fake sbatch runs it)
    (first.work_dir / "slurm_jobs.json").write_text(json.dumps({"filter": "41"}))
    with pytest.raises(ValueError, match=r"curation Slurm jobs 41 .* still queued or running"):
        run_curation(data, tmp_path / "out")

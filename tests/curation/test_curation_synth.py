"""synthesize: config errors, end to end through datatrove's InferenceRunner, rejects, decont, resume.

The rule backends (``rule:echo``) run the whole path (a server process started by datatrove's
``custom`` server type, HTTP, checkpoints, request cache) without a model; one slow test runs a
tiny random transformers model on CPU.
"""

import gzip
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from curation import CurationConfig, run_curation
from curation.synth.config import SynthesizeConfig, SynthJob

# Worker processes come from a forkserver that keeps the environment it started with (the first
# multi-worker run of the session), so a count file set later with monkeypatch never reaches them.
# Set one at collection time, before any forkserver exists, for the multi-worker test.
WORKER_COUNT_FILE = Path(tempfile.mkdtemp(prefix="midtrain-synth-count-")) / "generations.txt"
os.environ.setdefault("MIDTRAIN_SYNTH_COUNT_FILE", str(WORKER_COUNT_FILE))

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
]
LEAK = "Janet has three apples and buys five more apples at the market on Sunday how many apples now"


def _prose(rng: random.Random) -> str:
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(6))


def _config(
    root: Path, num_docs: int = 12, *, extra_docs=(), eval_sets=False, executor=None, **synth
) -> CurationConfig:
    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "a.jsonl", "w") as f:
        for i in range(num_docs):
            f.write(json.dumps({"id": f"a{i}", "text": _prose(rng)}) + "\n")
        for i, text in enumerate(extra_docs):
            f.write(json.dumps({"id": f"x{i}", "text": _prose(rng) + " " + text}) + "\n")
    data = {
        "sources": [{"name": "a", "path": str(root / "a.jsonl"), "kind": "curated"}],
        "executor": executor or {"tasks": 1, "workers": 1},
        "dedup": {"minhash": False},
        "heldout": {"fraction": 0.0, "max_docs": 0},
        "synthesize": {
            "backend": {"kind": "local", "model": "rule:echo", "max_concurrent": 1},
            "generation": {"max_new_tokens": 30},
            "records_per_chunk": 4,
            "jobs": [{"source": "a", "task": "rephrase", "style": "textbook"}],
            **synth,
        },
    }
    if eval_sets:
        with open(root / "eval.jsonl", "w") as f:
            f.write(json.dumps({"question": LEAK, "answer": "eight"}) + "\n")
        data["decontamination"] = {
            "eval_sets": [{"name": "gsm8k", "path": str(root / "eval.jsonl"), "format": "gsm8k"}]
        }
    return CurationConfig.model_validate(data)


def _docs(folder: Path) -> list[dict]:
    out = []
    for f in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


# -- config errors, before any work ------------------------------------------------------------


def test_template_with_unknown_field_fails_with_the_field_name():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['title'\]"):
        SynthJob(source="a", task="custom", prompt_id="sum", prompt="Summarise {title}: {text}")
    with pytest.raises(ValueError, match=r"must use \{text\}"):
        SynthJob(source="a", task="custom", prompt_id="sum", prompt="Summarise {source}")
    with pytest.raises(ValueError, match="needs both prompt"):
        SynthJob(source="a", task="custom", prompt="{text}")
    with pytest.raises(ValueError, match="style: only for task rephrase"):
        SynthJob(source="a", task="qa", style="wiki")
    assert SynthJob(source="a", task="rephrase").output_source == "a.rephrase_wiki"
    assert SynthJob(source="a", task="custom", prompt_id="sum", prompt="{text}").output_source == "a.sum"


def test_yaml_errors_name_the_key_path(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "c.yaml").write_text(
        "sources: [{name: a, path: a.jsonl}]\n"
        "synthesize:\n"
        "  backend: {kind: local, model: 'rule:echo'}\n"
        "  jobs:\n"
        "    - {source: a, task: custom, prompt_id: s, prompt: 'Summarise {title}: {text}'}\n"
        "    - {source: a, task: qa, bogus: 1}\n"
    )
    with pytest.raises(ValueError) as info:
        CurationConfig.from_yaml(tmp_path / "c.yaml")
    message = str(info.value)
    assert "synthesize.jobs.0: prompt template: unknown field(s) ['title']" in message
    assert "synthesize.jobs.1.bogus: unknown key" in message


def test_unknown_keys_and_duplicate_outputs_are_errors():
    backend = {"kind": "local", "model": "rule:echo"}
    with pytest.raises(ValueError, match="bogus"):
        SynthesizeConfig.model_validate(
            {"backend": backend, "jobs": [{"source": "a", "task": "qa"}], "bogus": 1}
        )
    with pytest.raises(ValueError, match="same output source"):
        SynthesizeConfig.model_validate({"backend": backend, "jobs": [{"source": "a", "task": "qa"}] * 2})
    with pytest.raises(ValueError, match="endpoint_url: needed"):
        SynthesizeConfig.model_validate(
            {"backend": {"kind": "endpoint", "model": "m"}, "jobs": [{"source": "a", "task": "qa"}]}
        )


@pytest.mark.parametrize(
    ("backend", "jobs", "match"),
    [
        (
            {"kind": "local", "model": "rule:echo"},
            [{"source": "nope", "task": "qa"}],
            "jobs.0.source: unknown source",
        ),
        ({"kind": "vllm", "model": "org/model"}, [{"source": "a", "task": "qa"}], "vllm is not installed"),
        (
            {"kind": "local", "model": "/no/such/model"},
            [{"source": "a", "task": "qa"}],
            "not a save_pretrained folder",
        ),
        (
            {"kind": "endpoint", "model": "m", "endpoint_url": "http://127.0.0.1:9/v1"},
            [{"source": "a", "task": "qa"}],
            "is not reachable",
        ),
    ],
)
def test_bad_backend_or_source_fails_before_work_starts(tmp_path, backend, jobs, match):
    pytest.importorskip("datatrove")
    if backend["kind"] == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is not None:
            pytest.skip("vllm is installed here")
    config = _config(tmp_path, backend=backend, jobs=jobs)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        run_curation(config, tmp_path / "out")
    assert not (tmp_path / "out" / "inventory.parquet").exists()  # nothing ran


def test_backends_map_onto_datatrove_server_types():
    from curation.synth.backend import SERVER_SCRIPT, inference_config
    from curation.synth.config import BackendConfig, GenerationConfig

    gen = GenerationConfig(max_new_tokens=64, temperature=0.0, seed=3)
    vllm = inference_config(
        BackendConfig(kind="vllm", model="org/m", tp=2, dp=4, server_args={"enforce-eager": True}), gen
    )
    assert (vllm.server_type, vllm.tp, vllm.dp, vllm.use_chat) == ("vllm", 2, 4, True)
    assert vllm.model_kwargs == {"enforce-eager": True}
    assert vllm.default_generation_params == {"max_tokens": 64, "temperature": 0.0, "top_p": 0.95, "seed": 3}
    assert inference_config(BackendConfig(kind="sglang", model="org/m"), gen).server_type == "sglang"
    local = inference_config(BackendConfig(kind="local", model="rule:echo", batch_size=4), gen)
    assert local.server_type == "custom" and not local.use_chat
    assert local.model_kwargs["server_script"] == SERVER_SCRIPT and local.model_kwargs["batch_size"] == 4
    here = BackendConfig(kind="endpoint", model="m", endpoint_url="http://localhost:8000/v1/")
    there = BackendConfig(kind="endpoint", model="m", endpoint_url="https://api.example.com/v1")
    assert inference_config(here, gen).endpoint_url == "http://localhost:8000"  # datatrove adds /v1/...
    assert (
        inference_config(there, gen).endpoint_url == "https://api.example.com/v1"
    )  # the OpenAI client's base


# -- end to end with the rule backend ---------------------------------------------------------


def test_synthetic_sources_flow_into_curated_and_inventory(tmp_path):
    config = _config(
        tmp_path,
        jobs=[{"source": "a", "task": "rephrase", "style": "textbook"}, {"source": "a", "task": "qa"}],
    )
    result = run_curation(config, tmp_path / "out")
    inv = result.inventory.sort("source")
    assert inv["source"].to_list() == ["a", "a.qa", "a.rephrase_textbook"]
    assert inv["synthetic"].to_list() == [False, True, True]
    assert inv["parent_source"].to_list() == [None, "a", "a"]
    assert inv.filter(inv["synthetic"])["num_docs"].to_list() == [12, 12]
    docs = _docs(tmp_path / "out" / "curated" / "a.rephrase_textbook")
    assert len(docs) == 12 and len({d["id"] for d in docs}) == 12
    md = docs[0]["metadata"]
    assert md["synthetic"] is True and md["source"] == "a.rephrase_textbook"
    assert md["generator"] == "rule:echo" and md["prompt_id"] == "rephrase_textbook/v1"
    assert md["parent_id"] in {f"a{i}" for i in range(12)} and md["parent_source"] == "a"
    assert docs[0]["text"].endswith("Textbook section:")  # echo returns the prompt's tail
    report = json.loads((tmp_path / "out" / "reports" / "synthesis.json").read_text())
    assert report["sources"]["a.qa"]["parents"] == 12 and report["sources"]["a.qa"]["curated"] == 12
    assert "deterministic rule" in report["note"]


@pytest.mark.parametrize("workers", [1, 2])
def test_two_tasks_in_one_process_or_two(tmp_path, monkeypatch, workers):
    # workers=1 runs both tasks one after the other in this process, workers=2 in two processes
    counter = Path(os.environ["MIDTRAIN_SYNTH_COUNT_FILE"]) if workers > 1 else tmp_path / "generations.txt"
    counter.unlink(missing_ok=True)
    monkeypatch.setenv("MIDTRAIN_SYNTH_COUNT_FILE", str(counter))
    data = _config(tmp_path, num_docs=24, executor={"tasks": 2, "workers": workers}).model_dump(mode="json")
    lines = (tmp_path / "a.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a1.jsonl").write_text("".join(lines[:12]))
    (tmp_path / "in" / "a2.jsonl").write_text("".join(lines[12:]))
    data["sources"][0]["path"] = str(tmp_path / "in")
    result = run_curation(CurationConfig.model_validate(data), tmp_path / "out")
    assert len(list((tmp_path / "out" / "curated" / "a").glob("*.jsonl.gz"))) == 2  # one shard per task
    assert _count(counter) == 24
    docs = _docs(tmp_path / "out" / "curated" / "a.rephrase_textbook")
    assert sorted(d["metadata"]["parent_id"] for d in docs) == sorted(f"a{i}" for i in range(24))
    assert (
        result.inventory.filter(result.inventory["source"] == "a.rephrase_textbook")["num_docs"].item() == 24
    )


def test_a_task_without_documents_starts_no_server(tmp_path):
    # one input file, two tasks: curated/a has one shard, so generation task 1 reads nothing
    config = _config(tmp_path, num_docs=4, executor={"tasks": 2, "workers": 1})
    result = run_curation(config, tmp_path / "out")
    assert (
        result.inventory.filter(result.inventory["source"] == "a.rephrase_textbook")["num_docs"].item() == 4
    )
    work = next((tmp_path / "out" / "work").iterdir())
    logs = next((work / "logs").glob("synth-*-gen_a.rephrase_textbook")) / "logs"
    assert "Starting Custom server" in (logs / "task_00000.log").read_text()
    assert "Starting Custom server" not in (logs / "task_00001.log").read_text()


def test_empty_truncated_and_refused_generations_are_counted_rejects(tmp_path):
    # <<TOOLONG>>: the server answers 400 (a prompt beyond the context); the run goes on without it
    extra = ["<<EMPTY>>", "<<LONG>>", "<<LONG>>", "<<TOOLONG>>"]
    config = _config(tmp_path, num_docs=6, extra_docs=extra)
    result = run_curation(config, tmp_path / "out")
    row = result.inventory.filter(result.inventory["source"] == "a.rephrase_textbook")
    assert row["num_docs"].item() == 6
    report = json.loads((tmp_path / "out" / "reports" / "synthesis.json").read_text())
    source = report["sources"]["a.rephrase_textbook"]
    assert source["rejected"] == {"empty": 1, "truncated": 2, "refused": 1}
    assert source["parents"] == 10 and source["curated"] == 6
    removed = _docs(tmp_path / "out" / "removed" / "a.rephrase_textbook" / "synthesis")
    assert sorted(d["metadata"]["filter_reason"] for d in removed) == ["empty", "truncated", "truncated"]


def test_verdict_names_the_reason_of_every_reject():
    from curation.synth.steps import SynthRollout

    rollout = SynthRollout(
        output_source="x",
        template="{text}",
        style=None,
        chat=False,
        max_input_chars=100,
        min_output_chars=10,
        keep_truncated=False,
    )
    assert rollout.verdict("  \n", "stop") == "empty"
    assert rollout.verdict("a long enough answer", "length") == "truncated"
    assert rollout.verdict("short", "stop") == "too_short"
    assert rollout.verdict("a long enough answer", "stop") is None
    rollout.keep_truncated = True
    assert rollout.verdict("a long enough answer", "length") is None


def test_a_job_runs_on_its_own_backend_and_each_backend_is_checked(tmp_path):
    jobs = [
        {"source": "a", "task": "qa"},
        {"source": "a", "task": "solve", "backend": {"kind": "local", "model": "/no/such/model"}},
    ]
    config = _config(tmp_path, num_docs=2, jobs=jobs)
    with pytest.raises(FileNotFoundError, match=r"synthesize.jobs.1.backend.model: /no/such/model"):
        run_curation(config, tmp_path / "out")
    assert not (tmp_path / "out" / "inventory.parquet").exists()  # nothing ran


def test_generations_go_through_decontamination_again(tmp_path):
    # the custom prompt itself carries an eval item, so every generation (echoing the prompt's tail) leaks it
    jobs = [{"source": "a", "task": "custom", "prompt_id": "leak", "prompt": "{text}\n" + LEAK}]
    config = _config(tmp_path, num_docs=5, eval_sets=True, jobs=jobs)
    result = run_curation(config, tmp_path / "out")
    inv = result.inventory
    assert inv.filter(inv["source"] == "a")["num_docs"].item() == 5  # parents were clean
    assert "a.leak" not in inv["source"].to_list()  # no documents left: reported, not in the inventory
    report = json.loads((tmp_path / "out" / "reports" / "synthesis.json").read_text())
    assert report["sources"]["a.leak"]["decontamination_dropped"] == 5
    assert report["sources"]["a.leak"]["curated"] == 0 and not report["sources"]["a.leak"]["in_inventory"]
    assert len(_docs(tmp_path / "out" / "removed" / "a.leak" / "decontamination")) == 5


def test_changing_a_prompt_reruns_synthesis_not_curation(tmp_path):
    config = _config(tmp_path, num_docs=4)
    run_curation(config, tmp_path / "out")
    works = list((tmp_path / "out" / "work").iterdir())
    data = config.model_dump(mode="json")
    data["synthesize"]["jobs"] = [{"source": "a", "task": "qa"}]
    result = run_curation(CurationConfig.model_validate(data), tmp_path / "out")
    assert list((tmp_path / "out" / "work").iterdir()) == works  # same curation work folder
    assert sorted(result.inventory["source"].to_list()) == ["a", "a.qa"]  # old output removed
    assert not (tmp_path / "out" / "curated" / "a.rephrase_textbook").exists()


def test_endpoint_backend_talks_to_a_running_openai_compatible_server(tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from curation.synth.backend import SERVER_SCRIPT

    counter = tmp_path / "generations.txt"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**__import__("os").environ, "MIDTRAIN_SYNTH_COUNT_FILE": str(counter)}
    server = subprocess.Popen(
        [sys.executable, SERVER_SCRIPT, "--port", str(port), "--model", "rule:echo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        backend = {"kind": "endpoint", "model": "echo", "endpoint_url": f"http://127.0.0.1:{port}/v1"}
        config = _config(tmp_path, num_docs=5, backend=backend, jobs=[{"source": "a", "task": "qa"}])
        result = run_curation(config, tmp_path / "out")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert _count(counter) == 5
    docs = _docs(tmp_path / "out" / "curated" / "a.qa")
    assert len(docs) == 5 and docs[0]["metadata"]["backend"] == "endpoint"
    assert docs[0]["text"].endswith("Question-answer pairs:")  # chat request, echoed prompt tail
    assert result.inventory.filter(result.inventory["source"] == "a.qa")["synthetic"].item()


def test_a_rerun_curation_report_does_not_lose_the_synthetic_sources(tmp_path):
    config = _config(tmp_path, num_docs=4)
    run_curation(config, tmp_path / "out")
    work = next((tmp_path / "out" / "work").iterdir())
    (work / "logs" / "report" / "completions" / "00000").unlink()  # the curation report runs again
    result = run_curation(config, tmp_path / "out")
    assert sorted(result.inventory["source"].to_list()) == ["a", "a.rephrase_textbook"]
    assert len(_docs(tmp_path / "out" / "curated" / "a.rephrase_textbook")) == 4


# -- resume -----------------------------------------------------------------------------------


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_killed_generation_resumes_without_regenerating_finished_chunks(tmp_path, monkeypatch):
    counter = tmp_path / "generations.txt"
    monkeypatch.setenv("MIDTRAIN_SYNTH_COUNT_FILE", str(counter))
    monkeypatch.setenv("MIDTRAIN_SYNTH_FAIL_AFTER", "6")  # the server dies after 6 generations
    config = _config(tmp_path, num_docs=12)  # chunks of 4 documents
    with pytest.raises(Exception):  # noqa: B017 (the task's own error, whatever datatrove wraps it in)
        run_curation(config, tmp_path / "out")
    assert _count(counter) == 6
    work = next((tmp_path / "out" / "work").iterdir())
    synth = next((work / "synth").iterdir())
    stages = {p.name.split("-", 2)[2]: p for p in (work / "logs").glob(f"synth-{synth.name}-*")}
    assert not (stages["gen_a.rephrase_textbook"] / "completions" / "00000").exists()
    assert (synth / "checkpoints" / "a.rephrase_textbook" / "last_chunk" / "00000.txt").read_text() == "0"

    monkeypatch.delenv("MIDTRAIN_SYNTH_FAIL_AFTER")
    result = run_curation(config, tmp_path / "out")
    assert _count(counter) == 12  # the 6 finished documents (one whole chunk) were not generated again
    docs = _docs(tmp_path / "out" / "curated" / "a.rephrase_textbook")
    assert sorted(d["metadata"]["parent_id"] for d in docs) == sorted(f"a{i}" for i in range(12))
    assert (
        result.inventory.filter(result.inventory["source"] == "a.rephrase_textbook")["num_docs"].item() == 12
    )

    # a lost completion marker: the runner's checkpoints say every chunk is done, nothing is regenerated
    for stage in stages.values():
        (stage / "completions" / "00000").unlink()
    result = run_curation(config, tmp_path / "out")
    assert _count(counter) == 12
    docs = _docs(tmp_path / "out" / "curated" / "a.rephrase_textbook")
    assert len(docs) == 12 and len({d["id"] for d in docs}) == 12


# -- the real CPU path: a tiny transformers model ---------------------------------------------


@pytest.mark.slow
def test_tiny_transformers_model_generates_through_the_local_server(tmp_path, monkeypatch):
    from curation.synth.tiny import write_tiny_generator

    counter = tmp_path / "generations.txt"
    monkeypatch.setenv("MIDTRAIN_SYNTH_COUNT_FILE", str(counter))
    rng = random.Random(1)
    model = write_tiny_generator(tmp_path / "gen", [_prose(rng) for _ in range(40)], vocab_size=400)
    config = _config(
        tmp_path,
        num_docs=6,
        backend={"kind": "local", "model": str(model), "batch_size": 4, "max_concurrent": 4},
        generation={"max_new_tokens": 12, "temperature": 0.0},
        keep_truncated=True,
        min_output_chars=1,  # greedy random weights repeat one short token
        jobs=[
            {"source": "a", "task": "rephrase", "style": "wiki"},
            {"source": "a", "task": "qa"},
            {"source": "a", "task": "solve"},
            {"source": "a", "task": "custom", "prompt_id": "summary", "prompt": "Summary of {text}:"},
        ],
    )
    result = run_curation(config, tmp_path / "out")
    assert _count(counter) == 4 * 6
    outputs = ["a.rephrase_wiki", "a.qa", "a.solve", "a.summary"]
    for name in outputs:
        assert len(_docs(tmp_path / "out" / "curated" / name)) == 6, name
    docs = _docs(tmp_path / "out" / "curated" / "a.solve")
    assert all("\n\nSolution:\n" in d["text"] for d in docs)  # solve keeps the problem, then the solution
    custom = _docs(tmp_path / "out" / "curated" / "a.summary")[0]["metadata"]["prompt_id"]
    assert custom.startswith("summary/custom-")
    report = json.loads((tmp_path / "out" / "reports" / "synthesis.json").read_text())
    assert "writes little of value" in report["note"]
    assert 0 < report["sources"]["a.solve"]["completion_tokens"] <= 6 * 12
    inv = result.inventory.filter(result.inventory["synthetic"])
    assert sorted(inv["source"].to_list()) == sorted(outputs)
    shutil.rmtree(tmp_path / "gen")


def test_one_runner_object_runs_two_tasks(tmp_path, monkeypatch):
    from datatrove.data import Document
    from datatrove.pipeline.writers import JsonlWriter

    from curation.synth.backend import SynthRunner, inference_config
    from curation.synth.config import BackendConfig, GenerationConfig
    from curation.synth.steps import SynthRollout

    counter = tmp_path / "generations.txt"
    monkeypatch.setenv("MIDTRAIN_SYNTH_COUNT_FILE", str(counter))
    rollout = SynthRollout(
        output_source="x",
        template="{text}",
        style=None,
        chat=False,
        max_input_chars=100,
        min_output_chars=0,
        keep_truncated=True,
    )
    runner = SynthRunner(
        rollout,
        inference_config(BackendConfig(kind="local", model="rule:echo"), GenerationConfig(max_new_tokens=4)),
        JsonlWriter(str(tmp_path / "out"), output_filename="${rank}_chunk_${chunk_index}.jsonl.gz"),
        checkpoints_local_dir=str(tmp_path / "ckpt"),
        records_per_chunk=2,
    )
    for rank in (0, 1):  # datatrove's runner would start task 1 at task 0's last chunk and skip it all
        runner.run(iter([Document(text=f"doc {rank} {i}", id=f"{rank}-{i}") for i in range(5)]), rank=rank)
    assert _count(counter) == 10
    assert sorted(d["id"] for d in _docs(tmp_path / "out")) == sorted(
        f"{r}-{i}" for r in (0, 1) for i in range(5)
    )

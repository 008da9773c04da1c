"""The synth-toy preset end to end: every synthesis task, decontamination, inventory, plan cap, report.

To keep the suite fast the test runs the preset with the deterministic ``rule:echo`` backend for
all jobs but one; the rephrase job keeps the preset's ``model: tiny`` (the random-weight Llama the
curate stage writes to RUN/curate/generator), so the transformers server path runs once. A fifth
job echoes a planted benchmark item and must be dropped by decontamination.
"""

import gzip
import json
import random
from pathlib import Path

import polars as pl
import pytest
import yaml

from curation.demo_math import make_word_problem
from recipes.commands import run_recipe
from recipes.presets import PRESETS_DIR

OUTPUTS = ["general.rephrase_textbook", "general.qa", "math.solve", "code.explain"]


def _docs(folder: Path) -> list[dict]:
    out = []
    for f in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


def _recipe(tmp_path: Path) -> Path:
    recipe = yaml.safe_load((PRESETS_DIR / "synth-toy.yaml").read_text())
    synth = recipe["curate"]["synthesize"]
    tiny = dict(synth["backend"])
    assert tiny["model"] == "tiny"
    synth["backend"] = {"kind": "local", "model": "rule:echo", "max_concurrent": 8}
    synth["jobs"][0]["backend"] = tiny  # the rephrase job runs the tiny transformers model
    # the demo's first gsm8k-like eval item (the eval sets are seeded by item, not by corpus size)
    leak = make_word_problem(random.Random("eval-0-0"), heldout=True)["question"]
    synth["jobs"].append(
        {
            "source": "general",
            "task": "custom",
            "prompt_id": "leak",
            "max_docs": 3,
            "prompt": "{text}\n\n" + leak,
        }
    )
    recipe["runs"]["synth"]["plan"]["total_tokens"] = 20480  # 10 steps: that it trains is the point
    recipe["eval"]["max_tokens_per_domain"] = 2048
    path = tmp_path / "synth-toy-test.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_synth_toy_preset_generates_decontaminates_caps_and_reports(tmp_path):
    root = tmp_path / "run"
    run_recipe(str(_recipe(tmp_path)), root)
    curate = root / "curate"
    report = json.loads((curate / "reports" / "synthesis.json").read_text())
    assert set(report["sources"]) == {*OUTPUTS, "general.leak"}

    # every task wrote a synthetic source with its provenance in each document's metadata
    for name in OUTPUTS:
        docs = _docs(curate / "curated" / name)
        assert docs, name
        parents = {d["id"] for d in _docs(curate / "curated" / name.split(".")[0])}
        for doc in docs:
            md = doc["metadata"]
            assert md["synthetic"] is True and md["source"] == name
            assert md["generator"] and md["prompt_id"] and md["parent_id"] in parents
        assert report["sources"][name]["curated"] == len(docs)
    tiny = report["sources"]["general.rephrase_textbook"]
    assert tiny["generator"] == str(curate / "generator") and "writes little of value" in tiny["note"]
    assert tiny["completion_tokens"] > 0 and tiny["completion_tokens_per_s"] > 0
    assert report["sources"]["code.explain"]["prompt_id"].startswith("explain/custom-")
    assert all("\n\nSolution:\n" in d["text"] for d in _docs(curate / "curated" / "math.solve"))

    # the planted benchmark item was caught in the generations and counted
    leak = report["sources"]["general.leak"]
    assert leak["parents"] > 0 and leak["decontamination_dropped"] == leak["parents"] and leak["curated"] == 0
    assert len(_docs(curate / "removed" / "general.leak" / "decontamination")) == leak["parents"]

    inventory = pl.read_parquet(curate / "inventory.parquet")
    synthetic = set(inventory.filter(pl.col("synthetic"))["source"].to_list())
    assert synthetic == set(OUTPUTS)  # general.leak has no document left: reported, not inventoried
    assert set(inventory.filter(~pl.col("synthetic"))["source"].to_list()) == {"general", "math", "code"}

    # the targets ask 20% synthetic; the plan caps it at max_synthetic_share 0.1
    plan = pl.read_parquet(root / "plans" / "synth" / "plan.parquet")
    share = plan.filter(pl.col("source").is_in(list(synthetic)))["share"].sum()
    assert 0 < share <= 0.1 + 1e-9
    assert "max_synthetic_share" in plan["constraint"].drop_nulls().to_list()
    assert (root / "runs" / "synth" / "seed0" / "metrics.jsonl").is_file()  # it trained

    text = (root / "report" / "report.md").read_text()
    section = text.split("## Synthetic data", 1)[1].split("\n## ", 1)[0]
    assert "writes little of value" in section and "What is shown is the pipeline" in section
    for name in OUTPUTS:
        assert f"`{name}`" in section
    assert "| synth | anneal |" in section and "Real size: a vLLM model on GPUs" in section


def test_model_tiny_is_a_recipe_placeholder_for_the_run_folder(tmp_path):
    from curation import CurationConfig
    from recipes.config import load_recipe
    from recipes.stages import curation_config
    from recipes.synth_stage import resolve_tiny_generator

    config = CurationConfig.model_validate(curation_config(load_recipe("synth-toy"), tmp_path))
    assert config.synthesize.backend.model == str(tmp_path / "curate" / "generator")
    section = {
        "synthesize": {
            "backend": {"kind": "local", "model": "rule:echo"},
            "jobs": [
                {"source": "a", "task": "qa", "backend": {"model": "tiny"}},
                {"source": "a", "task": "solve"},
            ],
        }
    }
    resolved = resolve_tiny_generator(section, tmp_path)
    assert resolved["synthesize"]["jobs"][0]["backend"]["model"] == str(tmp_path / "curate" / "generator")
    assert resolved["synthesize"]["backend"]["model"] == "rule:echo"
    assert section["synthesize"]["jobs"][0]["backend"]["model"] == "tiny"  # the recipe is not changed
    endpoint = {"synthesize": {"backend": {"kind": "endpoint", "model": "tiny"}, "jobs": []}}
    assert resolve_tiny_generator(endpoint, tmp_path) == endpoint  # a served model's name stays


def test_report_section_only_where_synthesis_is_configured(tmp_path):
    from recipes.config import load_recipe
    from recipes.report_synth import synthesis_section

    assert synthesis_section(load_recipe("demo"), tmp_path) == ""
    assert "No synthesis report found" in synthesis_section(load_recipe("synth-toy"), tmp_path)

"""Recipe guards that mutation testing (scripts/mutation.sh recipes) showed missing.

The stage bodies (curate, tokenize, plan, train) were exercised only by the slow end-to-end tests;
here each stage built by ``build_stages`` runs with its heavy callee swapped for a recorder, so
the wiring (which folder goes where, which seed, the recipe's scale) is checked in milliseconds.
Also ``RunDir.claim``: the resolved recipe and provenance it records.
"""

import sys
from pathlib import Path

import pytest
import yaml

from recipes.config import load_recipe
from recipes.runner import RECIPE_FILE, RunDir
from recipes.stages import build_stages


def _stages(tmp_path, *overrides):
    recipe = load_recipe("demo", overrides=list(overrides))
    return recipe, {s.name: s for s in build_stages(recipe, tmp_path)}


def test_curate_stage_runs_curation_on_the_demo_sources_with_decontamination(tmp_path, monkeypatch):
    import curation

    calls = []
    monkeypatch.setattr(curation, "run_curation", lambda config, out, wait: calls.append((config, out, wait)))
    _, stages = _stages(tmp_path)
    out = tmp_path / "curate"
    assert stages["curate"].run(out) == [out / "inventory.parquet", out / "reports"]
    ((config, where, wait),) = calls
    assert where == out and wait is True
    raw = tmp_path / "corpus" / "raw"
    assert [(s.name, Path(s.path)) for s in config.sources] == [
        (n, raw / f"{n}.jsonl") for n in ("math", "code", "general")
    ]
    assert [s.name for s in config.decontamination.eval_sets] == ["gsm8k_like", "humaneval_like"]
    assert (
        Path(config.decontamination.eval_sets[0].path)
        == tmp_path / "corpus" / "evalsets" / "gsm8k_like.jsonl"
    )


def test_tokenize_stage_reads_the_curate_folder_and_writes_its_output(tmp_path, monkeypatch):
    import training

    calls = []
    monkeypatch.setattr(
        training, "tokenize_curated", lambda src, out, config: calls.append((src, out, config))
    )
    _, stages = _stages(tmp_path)
    out = tmp_path / "elsewhere"
    assert stages["tokenize"].run(out)[0] == out / "tokenizer.json"
    ((src, where, config),) = calls
    assert src == tmp_path / "curate" and where == out
    assert isinstance(config, training.TokenizeConfig)


def test_plan_stage_scales_the_token_budget_and_plans_from_the_exact_inventory(tmp_path, monkeypatch):
    import mixing
    import recipes.stages as stages_module

    seen = {}
    monkeypatch.setattr(stages_module, "exact_inventory", lambda root: seen.setdefault("root", root))
    monkeypatch.setattr(
        mixing, "plan_mixture", lambda inv, config: seen.update(inv=inv, config=config) or "plan"
    )
    monkeypatch.setattr(
        mixing, "write_plan", lambda plan, out, config: seen.update(plan=plan, out=out, written=config)
    )
    recipe, stages = _stages(tmp_path, "scale=0.5")
    out = tmp_path / "plan-out"
    assert stages["base.plan"].run(out) == [out / "plan.parquet", out / "plan.png"]
    assert (
        seen["root"] == tmp_path and seen["inv"] == tmp_path and seen["plan"] == "plan" and seen["out"] == out
    )
    assert seen["config"].total_tokens == int(recipe.base.plan["total_tokens"] * 0.5)
    assert seen["written"] is seen["config"]  # plan.json and the plot describe the config that planned it
    # each run's plan stage plans that run's mixture
    anneal_out = tmp_path / "anneal-plan"
    assert stages["plan.anneal"].run(anneal_out) == [anneal_out / "plan.parquet", anneal_out / "plan.png"]
    assert seen["out"] == anneal_out
    assert [p.name for p in seen["config"].phases] == [
        p["name"] for p in recipe.runs["anneal"].plan["phases"]
    ]


def _record_train_configs(monkeypatch) -> list:
    """``training.train`` replaced by a stub that records each config and reports one step."""
    import training
    from training.trainer.loop import TrainResult

    configs = []

    def fake_train(config):
        configs.append(config)
        return TrainResult(Path(config.run_dir), Path(config.run_dir) / "hf" / "step_1", Path("m.jsonl"), 1)

    monkeypatch.setattr(training, "train", fake_train)
    return configs


def test_train_stages_get_their_folders_seed_and_init(tmp_path, monkeypatch):
    configs = _record_train_configs(monkeypatch)
    _, stages = _stages(tmp_path, "base.seeds=[3]")
    out = tmp_path / "base-run"
    assert (
        stages["base.train.seed3" if "base.train.seed3" in stages else "base.train"].run(out)[0]
        == out / "hf" / "step_1"
    )
    base = configs[-1]
    assert Path(base.run_dir) == out and base.seed == 3
    assert Path(base.tokens_dir) == tmp_path / "tokens"
    assert Path(base.plan_path) == tmp_path / "base" / "plan" / "plan.parquet"
    # a run with init: base starts from the base run's last HF export
    (tmp_path / "base" / "run" / "hf" / "step_7").mkdir(parents=True)
    (tmp_path / "base" / "run" / "hf" / "step_12").mkdir(parents=True)
    stages["train.anneal.seed0"].run(tmp_path / "anneal")
    anneal = configs[-1]
    assert anneal.seed == 0 and Path(anneal.plan_path) == tmp_path / "plans" / "anneal" / "plan.parquet"
    assert Path(anneal.model.init_from) == tmp_path / "base" / "run" / "hf" / "step_12"


def test_claim_records_the_resolved_recipe_and_refuses_another_recipes_folder(tmp_path):
    recipe = load_recipe("demo")
    run = RunDir(tmp_path / "run")
    run.claim(recipe, force=False)
    recorded = yaml.safe_load((tmp_path / "run" / RECIPE_FILE).read_text())
    assert recorded == yaml.safe_load(yaml.safe_dump(recipe.model_dump(mode="json")))
    assert (tmp_path / "run" / "provenance.json").is_file()
    other = recipe.model_copy(update={"name": "other"})
    with pytest.raises(FileExistsError, match="holds a run of recipe 'demo', not 'other'"):
        run.claim(other, force=False)
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "x.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not a midtrain run folder"):
        RunDir(tmp_path / "stranger").claim(recipe, force=False)


def test_demo_curation_judges_general_as_web_and_indexes_both_eval_sets(tmp_path):
    from recipes.stages import curation_config

    recipe = load_recipe("demo")
    section = curation_config(recipe, tmp_path)
    assert [s.get("kind") for s in section["sources"]] == [None, None, "web"]
    evalsets = tmp_path / "corpus" / "evalsets"
    assert [(e["name"], e["path"], e["format"]) for e in section["decontamination"]["eval_sets"]] == [
        ("gsm8k_like", str(evalsets / "gsm8k_like.jsonl"), "gsm8k"),
        ("humaneval_like", str(evalsets / "humaneval_like.jsonl"), "humaneval"),
    ]


def test_eval_stage_evaluates_every_model_with_the_curated_heldout(tmp_path, monkeypatch):
    import evaluation

    calls = []
    monkeypatch.setattr(
        evaluation, "evaluate", lambda models, config, out: calls.append((models, config, out))
    )
    _, stages = _stages(tmp_path)
    for folder in [
        "base/run/hf/step_3",
        *(f"runs/{r}/seed0/hf/step_5" for r in ("anneal", "no-replay", "decay-general", "constant-general")),
    ]:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "runs" / "anneal" / "seed0" / "hf" / "average").mkdir()
    (tmp_path / "runs" / "anneal" / "seed0" / "hf" / "average" / "config.json").write_text("{}")
    out = tmp_path / "eval-out"
    assert stages["eval"].run(out) == [out / "eval.parquet", out / "report.md"]
    ((models, config, where),) = calls
    assert where == out and Path(config.heldout_dir) == tmp_path / "curate" / "heldout"
    assert models["base"] == tmp_path / "base" / "run" / "hf" / "step_3"
    assert models["anneal"] == tmp_path / "runs" / "anneal" / "seed0" / "hf" / "step_5"
    assert models["anneal/average"] == tmp_path / "runs" / "anneal" / "seed0" / "hf" / "average"
    assert sorted(models) == sorted(
        ["base", "anneal", "anneal/average", "no-replay", "decay-general", "constant-general"]
    )


def test_a_run_from_a_users_model_evaluates_that_model_as_the_base(tmp_path):
    from recipes.config import validate_recipe
    from recipes.stages import evaluated_models

    raw = load_recipe("demo").model_dump()
    raw.pop("base")
    raw["model"] = {"init_from": str(tmp_path / "user-model")}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    (tmp_path / "user-model").mkdir()
    (tmp_path / "user-model" / "config.json").write_text("{}")
    (tmp_path / "runs" / "anneal" / "seed0" / "hf" / "step_2").mkdir(parents=True)
    models = evaluated_models(validate_recipe(raw), tmp_path)
    assert models == {
        "base": tmp_path / "user-model",
        "anneal": tmp_path / "runs" / "anneal" / "seed0" / "hf" / "step_2",
    }


def test_a_run_started_from_weights_drops_the_fresh_model_keys_and_keeps_the_rest(tmp_path, monkeypatch):
    import training
    from training.trainer.loop import TrainResult

    configs = []
    monkeypatch.setattr(
        training,
        "train",
        lambda config: configs.append(config) or TrainResult(Path(config.run_dir), None, Path("m"), 1),
    )
    _, stages = _stages(
        tmp_path, "model.attn_implementation=eager", f"model.config_from={tmp_path / 'cfg.json'}"
    )
    (tmp_path / "base" / "run" / "hf" / "step_4").mkdir(parents=True)
    stages["train.anneal.seed0"].run(tmp_path / "anneal")
    model = configs[-1].model
    assert Path(model.init_from) == tmp_path / "base" / "run" / "hf" / "step_4"
    assert model.tiny is None and model.config_from is None  # weights decide the architecture
    assert model.attn_implementation == "eager"  # other model settings survive


def test_new_weights_at_the_init_path_retrain_the_base_run_too(tmp_path):
    import os
    import time

    from transformers import LlamaConfig, LlamaForCausalLM

    from recipes.config import validate_recipe
    from recipes.runner import run_stages

    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
        )
    ).save_pretrained(tmp_path / "user-model")
    raw = load_recipe("demo").model_dump()
    raw["model"] = {"init_from": str(tmp_path / "user-model")}
    recipe = validate_recipe(raw)

    def run() -> list[str]:
        ran = []
        stages = build_stages(recipe, tmp_path / "run")
        for stage in stages:

            def record(out, name=stage.name):
                ran.append(name)
                (out / "done.txt").write_text(name)
                return [out / "done.txt"]

            stage.run = record
        run_stages(stages, RunDir(tmp_path / "run"), log=lambda m: None)
        return ran

    assert "base.train" in run() and run() == []
    weights = tmp_path / "user-model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes())
    later = time.time() + 5
    os.utime(weights, (later, later))
    again = run()
    assert "base.train" in again and "base.plan" not in again and "tokenize" not in again


def test_stage_folders_follow_the_documented_run_layout(tmp_path):
    """recipes/stages.py's layout is what users (and `midtrain report`) open: RUN/eval, RUN/runs/<run>/soup..."""
    _, stages = _stages(tmp_path, "runs.anneal.seeds=[0,1]", "average.anneal=true")
    where = {name: stage.output.relative_to(tmp_path).as_posix() for name, stage in stages.items()}
    assert where["corpus"] == "corpus" and where["curate"] == "curate" and where["tokenize"] == "tokens"
    assert where["base.plan"] == "base/plan" and where["base.train"] == "base/run"
    assert where["plan.anneal"] == "plans/anneal" and where["train.anneal.seed1"] == "runs/anneal/seed1"
    assert where["average.anneal"] == "runs/anneal/soup"
    assert where["eval"] == "eval" and where["report"] == "report"


def test_a_finished_stage_records_when_it_finished_as_an_iso_time(tmp_path):
    import datetime
    import json

    from recipes.runner import StageRecord

    run = RunDir(tmp_path)
    run.mark_finished(StageRecord("eval", "k1", "ran", wall_s=1.5, outputs=["eval/eval.parquet"]))
    (marker,) = run.markers.glob("eval.json")
    record = json.loads(marker.read_text())
    assert record["key"] == "k1" and record["outputs"] == ["eval/eval.parquet"]
    finished = datetime.datetime.fromisoformat(record["finished_at"])
    assert abs((datetime.datetime.now() - finished).total_seconds()) < 600


def test_corpus_and_report_stages_write_into_their_own_folder(tmp_path, monkeypatch):
    import curation.demo_corpus
    import recipes.report

    built, reported = [], []

    class Corpus:
        sources, evalsets, ground_truth_path = {"math": Path("m")}, {"e": Path("e")}, Path("g")

    monkeypatch.setattr(
        curation.demo_corpus, "build_demo_corpus", lambda out, **kw: built.append((out, kw)) or Corpus()
    )
    monkeypatch.setattr(
        recipes.report, "write_report", lambda recipe, root, out: reported.append((root, out)) or []
    )
    recipe, stages = _stages(tmp_path, "scale=0.5")
    assert stages["corpus"].run(tmp_path / "c") == [Path("m"), Path("e"), Path("g")]
    ((out, kw),) = built
    assert out == tmp_path / "c" and kw["scale"] == recipe.data.demo_corpus.scale * 0.5
    stages["report"].run(tmp_path / "r")
    assert reported == [(tmp_path, tmp_path / "r")]


# --- fresh sample, seed 1203 ----------------------------------------------------------------------


def test_the_outputs_a_stage_returns_are_files_it_wrote(tmp_path, monkeypatch):
    """``Stage.run`` returns the files it wrote (recorded in RUN/.stages/<stage>.json): tokenization,
    and a training run launched under torchrun (``nproc_per_node: 2``)."""
    import recipes.launch
    import training

    def fake_tokenize(src, out, config):
        for name in ("tokenizer.json", "counts.parquet", "inventory.parquet"):
            (out / name).write_text("x")

    def fake_launch(config, launcher, out):
        (out / "hf" / "step_3").mkdir(parents=True)
        (out / "metrics.jsonl").write_text("{}\n")

    monkeypatch.setattr(training, "tokenize_curated", fake_tokenize)
    monkeypatch.setattr(recipes.launch, "run_distributed", fake_launch)
    _, stages = _stages(tmp_path, "runs.anneal.launcher.nproc_per_node=2")
    (tmp_path / "base" / "run" / "hf" / "step_1").mkdir(parents=True)  # anneal starts from the base run
    for name, count in (("tokenize", 3), ("train.anneal.seed0", 2)):
        out = tmp_path / "out" / name
        out.mkdir(parents=True)
        outputs = stages[name].run(out)
        assert len(outputs) == count and all(p.exists() for p in outputs), (name, outputs)


def test_killed_curation_and_training_resume_inside_their_own_folders(tmp_path):
    """docs/recipes.md: curation and training resume inside their folders (datatrove markers, DCP
    checkpoints); every other stage writes to ``.<stage>.partial/``, which a rerun starts afresh."""
    from recipes.runner import run_stages

    recipe = load_recipe("demo")
    stages = build_stages(recipe, tmp_path / "run")
    resumable = {"curate", "base.train", "train.anneal.seed0"}
    seen: dict[str, list[tuple[Path, bool]]] = {}
    for stage in stages:

        def body(out, stage=stage):
            found = (out / "work").exists()
            seen.setdefault(stage.name, []).append((out, found))
            (out / "work").write_text("half done")
            if stage.name in resumable and not found:
                raise RuntimeError(f"{stage.name} killed")
            return [out / "work"]

        stage.run = body
    for _ in range(len(resumable)):
        with pytest.raises(RuntimeError, match="killed"):
            run_stages(stages, RunDir(tmp_path / "run"), log=lambda m: None)
    run_stages(stages, RunDir(tmp_path / "run"), log=lambda m: None)
    output = {s.name: s.output for s in stages}
    for name in resumable:  # killed once, then resumed on what the first attempt left
        assert seen[name] == [(output[name], False), (output[name], True)], name
    assert all(len(v) == 1 for k, v in seen.items() if k not in resumable)


def test_average_stage_soups_the_last_export_of_every_seed(tmp_path, monkeypatch):
    import training

    calls = []
    monkeypatch.setattr(training, "average_checkpoints", lambda members, out: calls.append((members, out)))
    _, stages = _stages(tmp_path, "runs.anneal.seeds=[0,1]", "average.anneal=true")
    for seed, steps in ((0, (2, 10)), (1, (10,))):
        for step in steps:
            (tmp_path / "runs" / "anneal" / f"seed{seed}" / "hf" / f"step_{step}").mkdir(parents=True)
    out = tmp_path / "soup-out"
    assert stages["average.anneal"].run(out) == [out]
    seeds = tmp_path / "runs" / "anneal"
    assert calls == [([seeds / "seed0" / "hf" / "step_10", seeds / "seed1" / "hf" / "step_10"], out)]


def test_demo_curation_keeps_a_recipes_own_filter_profiles(tmp_path):
    """The demo's relaxed Gopher letter share is a default: a recipe's own profiles pass through,
    its own ``gopher_quality`` wins, and the recipe (whose dict feeds the curate key) is not changed."""
    import copy

    from curation import CurationConfig
    from recipes.config import validate_recipe
    from recipes.stages import curation_config

    raw = load_recipe("demo").model_dump()
    raw["curate"]["filters"] = {
        "profiles": {
            "web": {"gopher_quality": {"min_alpha_words_ratio": 0.7}},
            "math": {"gopher_repetition": {"dup_line_frac": 0.5}},
        }
    }
    recipe = validate_recipe(raw)
    before = copy.deepcopy(recipe.curate)
    section = curation_config(recipe, tmp_path)
    assert section["filters"]["profiles"] == raw["curate"]["filters"]["profiles"]
    assert recipe.curate == before
    CurationConfig.model_validate(section)


def test_demo_corpus_with_instruction_curates_math_instruct_as_an_instruction_source(tmp_path):
    from curation import CurationConfig
    from recipes.stages import curation_config

    recipe = load_recipe("demo", overrides=["data.demo_corpus.instruction=true"])
    section = curation_config(recipe, tmp_path)
    assert section["sources"][-1] == {
        "name": "math_instruct",
        "path": str(tmp_path / "corpus" / "raw" / "math_instruct.jsonl"),
        "domain": "instruction",
        "id_key": "id",
        "instruction": "prompt_response",
    }
    source = CurationConfig.model_validate(section).sources[-1]
    assert source.domain == "instruction" and source.instruction is not None


def test_a_run_from_a_dcp_checkpoint_evaluates_its_hf_export_of_that_step(tmp_path):
    """docs/recipes.md: ``model.init_from`` may be RUN/checkpoints/step_N (DCP); the base model
    evaluated is RUN/hf/step_N when that export exists, else the checkpoint itself."""
    from recipes.config import validate_recipe
    from recipes.stages import evaluated_models

    checkpoint = tmp_path / "user-run" / "checkpoints" / "step_8"
    checkpoint.mkdir(parents=True)
    (checkpoint / ".metadata").write_bytes(b"")
    raw = load_recipe("demo").model_dump()
    raw.pop("base")
    raw["model"] = {"init_from": str(checkpoint)}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    recipe = validate_recipe(raw)
    (tmp_path / "run" / "runs" / "anneal" / "seed0" / "hf" / "step_2").mkdir(parents=True)
    assert evaluated_models(recipe, tmp_path / "run")["base"] == checkpoint
    export = tmp_path / "user-run" / "hf" / "step_8"
    export.mkdir(parents=True)
    (export / "config.json").write_text("{}")
    assert evaluated_models(recipe, tmp_path / "run")["base"] == export


# --- fresh sample, seed 1204 ----------------------------------------------------------------------


def test_corpus_stage_builds_the_demo_corpus_with_the_recipes_seed_and_instruction_flag(
    tmp_path, monkeypatch
):
    import curation.demo_corpus

    built = []

    class Corpus:
        sources, evalsets, ground_truth_path = {}, {}, Path("g")

    monkeypatch.setattr(
        curation.demo_corpus, "build_demo_corpus", lambda out, **kw: built.append(kw) or Corpus()
    )
    _, stages = _stages(tmp_path, "data.demo_corpus.seed=7", "data.demo_corpus.instruction=true")
    stages["corpus"].run(tmp_path / "c")
    assert built[0]["seed"] == 7 and built[0]["instruction"] is True


def test_demo_sources_read_the_ids_the_demo_corpus_writes(tmp_path):
    """Curated documents keep the corpus's own ids (ground_truth.json names them): every demo
    source's ``id_key`` is in each of its records, and the ids are unique."""
    import json

    from curation.demo_corpus import build_demo_corpus
    from recipes.stages import curation_config

    build_demo_corpus(tmp_path / "corpus", scale=0.02, seed=0)
    for source in curation_config(load_recipe("demo"), tmp_path)["sources"]:
        records = [json.loads(line) for line in Path(source["path"]).read_text().splitlines()]
        ids = [r[source["id_key"]] for r in records]
        assert records and len(set(ids)) == len(ids), source["name"]


# --- fresh sample, seed 1205 ----------------------------------------------------------------------


def test_only_an_enabled_average_of_several_seeds_gets_an_average_stage(tmp_path):
    # a soup needs both: the recipe asks for it and the run has more than one seed to average
    cases = {
        ("runs.anneal.seeds=[0,1]", "average.anneal=true"): True,
        ("runs.anneal.seeds=[0,1]", "average.anneal=false"): False,
        ("runs.anneal.seeds=[0]", "average.anneal=true"): False,
    }
    for overrides, expected in cases.items():
        _, stages = _stages(tmp_path, *overrides)
        assert ("average.anneal" in stages) is expected, overrides


def test_provenance_records_the_git_commit_that_the_report_shows(tmp_path, monkeypatch):
    import json

    import training.trainer.setup as setup
    from recipes.report import _provenance

    monkeypatch.setattr(setup, "package_versions_and_commit", lambda packages: ({"torch": "9.9"}, "abc123"))
    RunDir(tmp_path).claim(load_recipe("demo"), force=False)
    recorded = json.loads((tmp_path / "provenance.json").read_text())
    assert recorded["git_commit"] == "abc123" and recorded["packages"] == {"torch": "9.9"}
    assert recorded["argv"] == sys.argv  # the command that started the run, under its documented key
    assert "git commit `abc123`" in _provenance(tmp_path)


# --- fresh sample, seed 1206 ----------------------------------------------------------------------


def test_from_after_until_error_lists_the_stage_order(tmp_path):
    from recipes.runner import run_stages

    with pytest.raises(ValueError) as err:
        run_stages([], RunDir(tmp_path), from_stage="report", until_stage="curate")
    assert str(err.value) == (
        "--from report comes after --until curate; stages run corpus -> curate -> tokenize -> base -> "
        "search -> plan -> train -> average -> eval -> report"
    )


def test_provenance_names_each_package_as_its_distribution_does(tmp_path):
    """The report prints provenance's packages as ``name version``: each is recorded under the
    distribution's own name with the installed version (so `tokenizers 0.x`, not a spelling of it)."""
    from importlib import metadata

    from recipes.runner import provenance

    packages = provenance()["packages"]
    for name in ("torch", "transformers", "datatrove", "polars", "tokenizers", "numpy", "pydantic"):
        assert packages[name] == metadata.version(name), name
    for name, version in packages.items():
        if version is not None:
            assert metadata.metadata(name)["Name"].lower() == name, name


# --- fresh sample, seed 1207 ----------------------------------------------------------------------


def test_an_atomic_stage_records_its_files_in_the_final_folder_and_others_as_given(tmp_path):
    """An atomic stage writes into a ``.partial`` folder that is renamed at the end: the files it
    returns there are recorded under the final folder; a file it names elsewhere is kept as given."""
    from recipes.runner import Stage, run_stages

    elsewhere = tmp_path / "shared" / "table.parquet"

    def work(out):
        (out / "a.txt").write_text("a")
        return [out / "a.txt", elsewhere]

    stage = Stage("curate", "curate", "k", tmp_path / "run" / "curate", work)
    (record,) = run_stages([stage], RunDir(tmp_path / "run"), log=lambda m: None)
    assert record.outputs == [str(tmp_path / "run" / "curate" / "a.txt"), str(elsewhere)]
    assert (tmp_path / "run" / "curate" / "a.txt").read_text() == "a"


def test_a_run_with_init_model_trains_from_the_recipes_model(tmp_path, monkeypatch):
    from recipes.config import validate_recipe

    configs = _record_train_configs(monkeypatch)
    (tmp_path / "user-model").mkdir()
    raw = load_recipe("demo").model_dump()
    raw["model"] = {"init_from": str(tmp_path / "user-model")}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    stages = {s.name: s for s in build_stages(validate_recipe(raw), tmp_path / "run")}
    stages["train.anneal.seed0"].run(tmp_path / "anneal")
    assert Path(configs[-1].model.init_from) == tmp_path / "user-model"


# --- fresh sample, seed 1209 ----------------------------------------------------------------------


def test_provenance_records_when_the_run_started_as_an_iso_time(tmp_path):
    import datetime
    import json

    RunDir(tmp_path).claim(load_recipe("demo"), force=False)
    recorded = json.loads((tmp_path / "provenance.json").read_text())
    started = datetime.datetime.fromisoformat(recorded["started_at"])
    assert abs((datetime.datetime.now() - started).total_seconds()) < 600


def test_report_shows_each_finished_stage_wall_time(tmp_path):
    from recipes.report import _provenance
    from recipes.runner import StageRecord

    run = RunDir(tmp_path)
    run.mark_finished(StageRecord("curate", "k1", "ran", wall_s=12.34, outputs=[]))
    run.mark_finished(StageRecord("train.anneal", "k2", "ran", wall_s=30.0, outputs=[]))
    assert run.stage_times() == {"curate": 12.34, "train.anneal": 30.0}
    text = _provenance(tmp_path)
    assert "12.3" in text and "Total stage time: 42 s." in text

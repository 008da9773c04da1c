"""The keys recipes/stages.py builds: what a change in a recipe reruns, and what it must not.

The stages' real work is swapped for a recorder, so these run in milliseconds while every key
comes from `build_stages` on a real recipe.
"""

import os
import time
from pathlib import Path

import pytest

from recipes.config import load_recipe, validate_recipe
from recipes.runner import RunDir, run_stages
from recipes.stages import build_stages


def _run(recipe, root: Path) -> list[str]:
    """Run the recipe's stages with recorders; return the names of the stages that ran."""
    ran: list[str] = []
    stages = build_stages(recipe, root)
    for stage in stages:

        def record(out: Path, name=stage.name) -> list[Path]:
            ran.append(name)
            (out / "done.txt").write_text(name)
            return [out / "done.txt"]

        stage.run = record
    run_stages(stages, RunDir(root), log=lambda m: None)
    return ran


def _demo(*overrides: str):
    return load_recipe("demo", overrides=list(overrides))


def test_changing_curate_filters_reruns_curation_and_everything_after_it(tmp_path):
    first = _run(_demo(), tmp_path)
    assert first[0] == "corpus" and "curate" in first and first[-1] == "report"
    assert _run(_demo(), tmp_path) == []  # nothing changed: nothing reruns
    changed = _run(_demo("curate.filters.gopher_quality.max_non_alpha_words_ratio=0.5"), tmp_path)
    assert "corpus" not in changed  # nothing before curation
    assert changed == first[1:]  # curation and every stage after it


def test_a_stage_whose_output_folder_is_gone_is_not_done(tmp_path):
    first = _run(_demo(), tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "plans" / "anneal")
    again = _run(_demo(), tmp_path)
    assert "plan.anneal" in again
    assert "corpus" not in again and "curate" not in again and "tokenize" not in again
    assert set(again) < set(first)


def test_init_is_checked_against_its_choices_with_the_key_path():
    raw = _demo().model_dump()
    raw["runs"]["anneal"]["init"] = "bsae"
    with pytest.raises(ValueError, match=r"runs\.anneal\.init: Input should be 'base', 'model' or 'scratch'"):
        validate_recipe(raw, where="r.yaml")


def _user_model(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_new_weights_at_the_same_init_path_retrain(tmp_path):
    model = _user_model(tmp_path / "user-model")
    raw = _demo().model_dump()
    raw.pop("base")
    raw["model"] = {"init_from": str(model)}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    recipe = validate_recipe(raw)
    first = _run(recipe, tmp_path / "run")
    assert "train.anneal.seed0" in first
    assert _run(recipe, tmp_path / "run") == []
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # same path, rewritten (new mtime)
    later = time.time() + 5
    os.utime(weights, (later, later))
    again = _run(recipe, tmp_path / "run")
    assert "train.anneal.seed0" in again and "eval" in again
    assert "tokenize" not in again and "plan.anneal" not in again  # the data did not change


def test_a_run_from_a_users_model_tokenizes_with_its_own_tokenizer(tmp_path):
    from recipes.stages import tokenize_section
    from training.trainer.testing import write_tokenizer

    model = _user_model(tmp_path / "m")
    write_tokenizer(model / "tokenizer.json", 64)
    raw = _demo().model_dump()
    raw.pop("base")
    raw["model"] = {"init_from": str(model)}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    assert tokenize_section(validate_recipe(raw))["tokenizer"] == str(model / "tokenizer.json")
    raw["tokenize"] = {"tokenizer": "/elsewhere/tokenizer.json"}
    assert tokenize_section(validate_recipe(raw))["tokenizer"] == "/elsewhere/tokenizer.json"


def test_an_init_folder_that_is_neither_hf_nor_dcp_fails_before_any_stage(tmp_path):
    from recipes.commands import run_recipe

    junk = tmp_path / "my-model"
    junk.mkdir()
    (junk / "pytorch_weights.txt").write_text("?")
    recipe = tmp_path / "r.yaml"
    raw = _demo().model_dump(mode="json")
    raw.pop("base")
    raw["model"] = {"init_from": str(junk)}
    raw["runs"] = {"anneal": {**raw["runs"]["anneal"], "init": "model"}}
    raw["average"] = {}
    import yaml

    recipe.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"model\.init_from: .*neither a Hugging Face folder") as error:
        run_recipe(recipe, tmp_path / "out")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_a_tokenizer_rewritten_in_place_retokenizes(tmp_path):
    from training.trainer.testing import write_tokenizer

    tokenizer = write_tokenizer(tmp_path / "tok" / "tokenizer.json", 64)
    recipe = _demo(f"tokenize.tokenizer={tokenizer}")
    first = _run(recipe, tmp_path / "run")
    assert "tokenize" in first
    write_tokenizer(tokenizer, 80)  # same path, another vocabulary
    again = _run(recipe, tmp_path / "run")
    assert again[0] == "tokenize" and "curate" not in again


def test_relaunching_on_other_processes_resumes_training_instead_of_retraining(tmp_path):
    """The launcher says where training runs, not what it trains: 1 -> 2 processes per node keeps
    every stage done (a DCP checkpoint reshards onto the new world size)."""
    assert _run(_demo(), tmp_path)[-1] == "report"
    assert _run(_demo("runs.anneal.launcher.nproc_per_node=2"), tmp_path) == []

"""``--set`` overrides and the run-folder guard."""

import pytest

from recipes.config import RecipeConfig
from recipes.overrides import apply_overrides
from recipes.runner import RunDir


def test_set_parses_yaml_scalars_and_creates_mappings():
    raw = {"train": {"seed": 1}, "name": "x"}
    out = apply_overrides(raw, ["train.seed=3", "train.scheduler.kind=wsd", "scale=0.5", "eval.flag=true"])
    assert out["train"] == {"seed": 3, "scheduler": {"kind": "wsd"}}
    assert out["scale"] == 0.5 and out["eval"]["flag"] is True
    assert raw["train"] == {"seed": 1}  # the input is not modified


@pytest.mark.parametrize("bad", ["noequals", "=3", "name.sub=1"])
def test_set_rejects_malformed_items(bad):
    with pytest.raises(ValueError, match="--set"):
        apply_overrides({"name": "x"}, [bad])


def _recipe(name: str) -> RecipeConfig:
    return RecipeConfig.model_validate({"name": name, "runs": {"a": {"plan": {}}}})


def test_run_folder_refuses_a_different_recipe(tmp_path):
    RunDir(tmp_path / "run").claim(_recipe("one"), force=False)
    RunDir(tmp_path / "run").claim(_recipe("one"), force=False)  # same recipe: resume is fine
    with pytest.raises(FileExistsError, match="refusing to mix two runs"):
        RunDir(tmp_path / "run").claim(_recipe("two"), force=False)


def test_run_folder_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a midtrain run folder"):
        RunDir(tmp_path).claim(_recipe("one"), force=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"

"""Recipe validation: every preset validates; bad recipes fail up front naming the key path."""

import pytest
import yaml

from recipes.commands import run_recipe
from recipes.config import load_recipe
from recipes.presets import list_presets, resolve_preset


def test_all_presets_are_listed_and_validate():
    names = list_presets()
    assert {"demo", "olmo2-dolmino", "smollm2-stages", "llama3-data-value", "long-context"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.runs


@pytest.mark.parametrize("preset", ["olmo2-dolmino", "smollm2-stages", "llama3-data-value", "demo"])
def test_dry_run_of_presets_runs_nothing(preset, tmp_path, capsys):
    run_recipe(preset, tmp_path / "run", dry_run=True)
    assert not (tmp_path / "run").exists()  # nothing written
    err = capsys.readouterr().err
    assert "Stage graph" in err and "Plan summary" in err


def _write(tmp_path, edit):
    raw = yaml.safe_load(resolve_preset("demo").read_text())
    edit(raw)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(typo_key=1), "typo_key: unknown key"),
        (
            lambda r: r["runs"]["anneal"]["train"]["scheduler"].update(decay_fraction=1.5),
            "runs.anneal.train.scheduler.decay_fraction",
        ),
        (
            lambda r: r["runs"]["anneal"]["plan"].update(min_general_share=1.5),
            "runs.anneal.plan.min_general_share",
        ),
        (lambda r: r["curate"].update(filters={"enabled": ["nope"]}), "curate.filters.enabled"),
        (lambda r: r["eval"].update(seq_len="long"), "eval.seq_len"),
        (lambda r: r["runs"]["anneal"].update(init="base") or r.pop("base"), "runs.anneal.init"),
        (lambda r: r.update(average={"missing-run": True}), "average.missing-run"),
    ],
)
def test_bad_recipes_name_the_key_path(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        load_recipe(_write(tmp_path, edit))


def test_set_override_is_validated_too():
    with pytest.raises(ValueError, match="scale"):
        load_recipe("demo", overrides=["scale=-1"])
    assert load_recipe("demo", overrides=["scale=0.25"]).scale == 0.25


def test_missing_input_path_fails_before_anything_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"curate\.sources\.0\.path"):
        run_recipe("llama3-data-value", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unknown_preset_lists_the_presets():
    with pytest.raises(FileNotFoundError, match="presets: .*demo"):
        load_recipe("no-such-preset")


def test_set_on_a_yaml_alias_changes_only_that_path():
    # In the demo preset every anneal's `train` is an alias of one anchor that merges the base's.
    recipe = load_recipe("demo", overrides=["runs.no-replay.train.optimizer.lr=0.002"])
    assert recipe.runs["no-replay"].train["optimizer"]["lr"] == 0.002
    assert recipe.runs["anneal"].train["optimizer"]["lr"] == 0.003
    assert recipe.runs["decay-general"].train["optimizer"]["lr"] == 0.003
    assert recipe.base.train["optimizer"]["lr"] == 0.003

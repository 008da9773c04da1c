"""The weights averaged while training (train.averaging -> RUN/hf/average) are evaluated beside the
final weights of each seed."""

from recipes.config import load_recipe
from recipes.stages import evaluated_models


def _export(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")


def test_an_average_exported_while_training_is_evaluated_beside_the_final_weights(tmp_path):
    recipe = load_recipe("demo")
    if recipe.base is not None:
        _export(tmp_path / "base" / "run" / "hf" / "step_3")
    runs = {name: spec.seeds for name, spec in recipe.runs.items()}
    for name, seeds in runs.items():
        for seed in seeds:
            _export(tmp_path / "runs" / name / f"seed{seed}" / "hf" / "step_5")
    name, seeds = next(iter(runs.items()))
    label = name if len(seeds) == 1 else f"{name}/seed{seeds[0]}"
    assert f"{label}/average" not in evaluated_models(recipe, tmp_path)
    _export(tmp_path / "runs" / name / f"seed{seeds[0]}" / "hf" / "average")
    models = evaluated_models(recipe, tmp_path)
    assert models[f"{label}/average"] == tmp_path / "runs" / name / f"seed{seeds[0]}" / "hf" / "average"
    assert models[label].name == "step_5"  # final_hf_dir still picks the last step, not the average

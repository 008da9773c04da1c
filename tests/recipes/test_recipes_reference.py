"""docs/recipe_reference.md is generated from the config models and must match them."""

from pathlib import Path

from recipes.config import RecipeConfig, TrainRunSpec
from recipes.reference import generate

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "recipe_reference.md"


def test_reference_is_up_to_date():
    assert REFERENCE.read_text() == generate(), (
        "docs/recipe_reference.md is stale: regenerate it with "
        "`python -m recipes.reference > docs/recipe_reference.md`"
    )


def test_reference_lists_every_recipe_and_run_key_with_its_meaning():
    text = generate()
    for name in RecipeConfig.model_fields:
        assert f"| `{name}` |" in text
    for name in TrainRunSpec.model_fields:
        assert f"| `runs.<name>.{name}` |" in text
    init_row = next(line for line in text.splitlines() if line.startswith("| `runs.<name>.init` |"))
    assert "'base' \\| 'model' \\| 'scratch'" in init_row and "`'base'`" in init_row
    assert "| `runs.<name>.train.scheduler.start_lr` |" in text
    assert "| `runs.<name>.train.data.curriculum` |" in text

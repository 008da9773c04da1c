"""A recipe's --dry-run previews curation: a source that would be lost is named before anything runs."""

import json

import yaml

from recipes.commands import run_recipe
from recipes.presets import resolve_preset


def test_dry_run_warns_before_a_source_is_lost(tmp_path, capsys):
    # encyclopedia-like text (numbers, punctuation as words) judged by web rules: Gopher drops it
    rows = [
        {"id": f"a{i}", "text": f"= Article {i} =\n( 1 @.@ 5 km ) , ; : 12 34 56 -- {i}"} for i in range(30)
    ]
    src = tmp_path / "wiki.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw = yaml.safe_load(resolve_preset("demo").read_text())
    raw["curate"]["sources"] = [{"name": "wiki", "path": str(src), "kind": "web", "domain": "general"}]
    raw["curate"]["decontamination"]["eval_sets"] = []  # the demo's are written by its corpus stage
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    run_recipe(str(recipe), tmp_path / "run", dry_run=True)
    err = capsys.readouterr().err
    assert "Curation preview" in err
    assert "WARNING source 'wiki': gopher_quality dropped 30 of 30 documents" in err
    assert not (tmp_path / "run").exists()  # a dry run writes nothing

"""Nothing is lost silently: removed/ per source and step, per-source funnel, the guard, the audit."""

import gzip
import json
import random
import warnings
from pathlib import Path

import pytest

from curation import CurationConfig, run_curation
from curation.guard import CurationGuardError

WORDS = [
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
]
STOP = ["the", "and", "of", "to", "with", "that", "have", "be"]


def _prose(rng: random.Random, sentences: int = 8) -> str:
    return " ".join(
        " ".join(
            rng.choice(WORDS) if i % 3 else rng.choice(STOP) for i in range(rng.randint(9, 14))
        ).capitalize()
        + "."
        for _ in range(sentences)
    )


LEAK = "Janet has three apples and buys five more apples at the market on Sunday how many apples now"


def _write(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _removed(out: Path) -> dict[tuple[str, str], list[dict]]:
    found: dict[tuple[str, str], list[dict]] = {}
    for f in sorted((out / "removed").glob("*/*/*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            found.setdefault((f.parent.parent.name, f.parent.name), []).extend(json.loads(x) for x in fh)
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("acct")
    rng = random.Random(0)
    crawl = [{"id": f"c{i}", "text": _prose(rng)} for i in range(20)]
    crawl += [
        {"id": f"junk{i}", "text": "buy cheap now " * 3} for i in range(6)
    ]  # too short for the web profile
    crawl += [{"id": "junk-leak", "text": f"{LEAK} buy"}]  # contaminated *and* junk
    crawl += [{"id": "prose-leak", "text": _prose(rng) + " " + LEAK + "."}]
    books = [{"id": f"b{i}", "text": _prose(rng, 3)} for i in range(10)]
    config = {
        "sources": [
            {"name": "crawl", "path": _write(root / "crawl.jsonl", crawl), "kind": "web"},
            {"name": "books", "path": _write(root / "books.jsonl", books), "domain": "general"},
        ],
        "decontamination": {
            "eval_sets": [
                {
                    "name": "gsm8k",
                    "path": _write(root / "eval.jsonl", [{"question": LEAK, "answer": "8"}]),
                    "format": "gsm8k",
                }
            ],
            "n": 8,
            "mode": "flag",
        },
        "dedup": {"minhash": False},
        "heldout": {"fraction": 0.1, "max_docs": 2},
        "executor": {"tasks": 1, "workers": 1},
    }
    out = root / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_curation(CurationConfig.model_validate(config), out)
    return config, out, result, [str(w.message) for w in caught]


def test_every_dropped_document_is_kept_under_removed_with_its_reason(run):
    _, out, result, _ = run
    removed = _removed(out)
    by = result.funnel["by_source"]["crawl"]
    for step in ("gopher_quality", "gopher_repetition", "c4", "fineweb"):
        assert len(removed.get(("crawl", step), [])) == by[f"dropped_{step}"]
        for doc in removed.get(("crawl", step), []):
            assert doc["metadata"]["filter_reason"] in by["reasons"][step]
    ids = {d["id"] for docs in removed.values() for d in docs}
    assert {f"junk{i}" for i in range(6)} | {"junk-leak"} <= ids
    assert not any(src == "books" for src, _ in removed)  # clean books: nothing removed
    examples = [json.loads(x) for x in (out / "reports" / "removed_examples.jsonl").read_text().splitlines()]
    assert {(e["source"], e["step"]) for e in examples} == set(removed)


def test_decontamination_sees_documents_the_filters_drop(run):
    _, out, result, _ = run
    hits = [json.loads(x) for x in (out / "reports" / "decontamination.jsonl").read_text().splitlines()]
    # junk-leak is dropped by gopher_quality right after; the audit still lists it
    assert {h["doc_id"] for h in hits} == {"junk-leak", "prose-leak"}
    assert "junk-leak" in {d["id"] for d in _removed(out)[("crawl", "gopher_quality")]}


def test_funnel_is_per_source_with_profile_and_heldout_is_not_a_drop(run):
    _, out, result, _ = run
    funnel = result.funnel
    assert funnel["by_source"]["crawl"]["profile"] == "web"
    assert funnel["by_source"]["books"]["profile"] == "curated"
    held = next(s for s in funnel["steps"] if s["step"] == "heldout")
    assert held["dropped"] == 0 and held["heldout"] == 3  # 2 from crawl (cap), 1 from books
    table = (out / "reports" / "funnel.txt").read_text()
    assert "crawl" in table and "books" in table and "gopher_short_doc" in table
    assert "examples of removed documents" in table and "buy cheap now" in table  # an example per reason
    assert (out / "reports" / "funnel.png").stat().st_size > 10_000


def test_guard_warns_naming_source_step_and_reason(tmp_path):
    rng = random.Random(1)
    wiki = [
        {"id": f"w{i}", "text": f"= Title {i} =\n" + _prose(rng, 2) + " ( 1 @.@ 5 km ) , ; : -- 12 34"}
        for i in range(8)
    ]
    config = CurationConfig.model_validate(
        {
            "sources": [{"name": "wiki", "path": _write(tmp_path / "w.jsonl", wiki), "kind": "web"}],
            "dedup": {"minhash": False},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    with pytest.warns(
        UserWarning, match=r"source 'wiki': gopher_quality dropped \d of 8 documents.*top reason gopher"
    ):
        result = run_curation(config, tmp_path / "out")
    kinds = {w["kind"] for w in result.warnings}
    assert {"step_drop", "empty", "no_heldout"} <= kinds
    strict = config.model_copy(update={"guard": config.guard.model_copy(update={"strict": True})})
    with pytest.raises(CurationGuardError, match="(?s)inventory not written.*source 'wiki'"):
        run_curation(strict, tmp_path / "strict")
    assert not (tmp_path / "strict" / "inventory.parquet").exists()
    assert (tmp_path / "strict" / "reports" / "funnel.txt").is_file()


def test_a_clean_run_has_no_warnings(run):
    _, out, result, messages = run
    assert [w for w in result.warnings if w["source"] == "books"] == []
    assert json.loads((out / "reports" / "warnings.json").read_text())["blocked"] is False


def test_preview_shows_what_each_step_would_drop_without_writing(run, tmp_path):
    from typer.testing import CliRunner

    from curation.cli import curate_app
    from curation.preview import preview

    config, _, _, _ = run
    result = preview(CurationConfig.model_validate(config), 10)
    crawl = result.funnel["by_source"]["crawl"]
    assert crawl["input"] == 10 and result.funnel["by_source"]["books"]["input"] == 10
    assert crawl["dropped_gopher_quality"] == 0  # the first 10 crawl documents are prose
    sample = preview(CurationConfig.model_validate(config), 28)  # now the junk is in the sample
    assert sample.funnel["by_source"]["crawl"]["dropped_gopher_quality"] == 7
    assert any(e["reason"] == "gopher_short_doc" for e in sample.examples)
    path = tmp_path / "c.yaml"
    import yaml

    path.write_text(yaml.safe_dump(config))
    out = CliRunner().invoke(curate_app, [str(path), "--preview", "28"])
    assert out.exit_code == 0, out.output
    assert "gopher_short_doc" in out.output and "examples of removed documents" in out.output
    assert not list(tmp_path.glob("*/inventory.parquet"))

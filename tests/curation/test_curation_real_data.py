"""The defaults on real public data (shared/data): clean sets survive unchanged, web junk goes.

These read ``../shared/data`` (CI always has it) and skip, saying why, when it is absent. The
config is what a user writes first: each source's name, path and domain; the web crawl says
``kind: web``.
"""

import gzip
import json
import warnings

import pytest

from curation import CurationConfig, run_curation
from curation.real_sets import CLEAN_SETS, REAL_SETS, find_shared_data, write_real_sources

DATA = find_shared_data()
pytestmark = pytest.mark.skipif(
    DATA is None, reason="../shared/data (real public sets) is not beside this checkout"
)


def _texts(folder) -> dict[str, str]:
    out = {}
    for shard in folder.glob("*/*.jsonl.gz"):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                out[record["id"]] = record["text"]
    return out


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    paths = write_real_sources(DATA, root / "src")
    sources = [{"name": n, "path": str(p), "domain": REAL_SETS[n]} for n, p in paths.items()]
    sources[-1]["kind"] = "web"
    assert sources[-1]["name"] == "web"
    config = CurationConfig.model_validate(
        {"sources": sources, "dedup": {"minhash": False}, "executor": {"tasks": 1, "workers": 1}}
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = run_curation(config, root / "out")
    inputs = {}
    for name, path in paths.items():
        with open(path) as f:
            inputs[name] = {r["id"]: r["text"] for r in map(json.loads, f)}
    alive = {**_texts(root / "out" / "curated"), **_texts(root / "out" / "heldout")}
    return result, inputs, alive


@pytest.mark.parametrize("name", CLEAN_SETS)
def test_clean_real_sets_lose_at_most_two_percent_to_filters(real_run, name):
    result, inputs, _ = real_run
    by = result.funnel["by_source"][name]
    filtered = sum(v for k, v in by.items() if k.startswith("dropped_") and k != "dropped_dedup")
    assert by["input"] == len(inputs[name]) > 0
    assert filtered <= 0.02 * by["input"], (name, by["reasons"])
    assert not [w for w in result.warnings if w["source"] == name]


@pytest.mark.parametrize("name", ["gsm8k", "humaneval", "flask", "wikitext"])
def test_math_answers_code_and_articles_stay_byte_identical(real_run, name):
    _, inputs, alive = real_run
    kept = [i for i in inputs[name] if i in alive]
    assert kept and all(alive[i] == inputs[name][i] for i in kept)
    if name == "gsm8k":
        assert all("####" in alive[i] for i in kept)  # every kept worked answer keeps its final line


def test_web_profile_removes_the_planted_junk(real_run):
    result, inputs, alive = real_run
    junk = [i for i in inputs["web"] if i.startswith("junk-")]
    assert len(junk) == 40
    removed = sum(i not in alive for i in junk)
    assert removed >= 0.95 * len(junk)
    assert result.funnel["by_source"]["web"]["profile"] == "web"


def test_web_rules_on_an_encyclopedia_warn_loudly(tmp_path):
    paths = write_real_sources(DATA, tmp_path / "src")
    config = CurationConfig.model_validate(
        {
            "sources": [{"name": "wikitext", "path": str(paths["wikitext"]), "kind": "web"}],
            "dedup": {"minhash": False},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    with pytest.warns(UserWarning, match=r"source 'wikitext': gopher_quality dropped \d+ of 60"):
        run_curation(config, tmp_path / "out")

"""``dedup.against: [A, B]`` on real text (shared/data): the chain A, then B against A, then C.

A run's ``dedup_index/`` holds only what that run kept, so B's index lacks the copies of A that B
dropped: C must list both. C holds exact and near copies of documents A kept and of documents B
kept, copies of A that B had dropped, and new GSM8K documents. Every copy must go as
``dedup_against`` and the new documents stay; A's and B's output folders stay byte-identical.
A control run of C against B alone keeps the copies of A. The refusals name ``dedup.against[i]``.
Skips when ``../shared/data`` is absent.
"""

import json
import random
import shutil
from pathlib import Path

import pytest
from against_runs import (
    DATA,
    against_config,
    curate,
    folder_hash,
    near_copy,
    needs_data,
    records,
    write_source,
)

from curation import CurationConfig, run_curation
from curation.real_sets import real_documents

pytestmark = needs_data


def _copies(kept: dict, docs: list[dict], tag: str, rng: random.Random, *, near: bool) -> list[dict]:
    return [
        {
            "id": f"{tag}-{d['id']}",
            "text": near_copy(kept[d["id"]]["text"], rng) if near else kept[d["id"]]["text"],
        }
        for d in docs
        if d["id"] in kept
    ]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("against_list")
    sets = real_documents(DATA)
    gsm, wiki = sets["gsm8k"], [d for d in sets["wikitext"] if len(d["text"].split()) > 400]
    rng = random.Random(0)
    a_out, b_out = root / "A_out", root / "B_out"
    curate(
        against_config(
            {
                "gsm": write_source(root / "a" / "gsm.jsonl", gsm[:300]),
                "wiki": write_source(root / "a" / "wiki.jsonl", wiki[:16]),
            }
        ),
        a_out,
    )
    kept_a = records(a_out / "curated")
    a_in_b = _copies(kept_a, gsm[:100:10], "b-copy", rng, near=False)  # B drops these: not in B's index
    b_new = [dict(d, id=f"b-{d['id']}") for d in gsm[1000:1200]]
    b_sources = {
        "gsm_b": write_source(root / "b" / "gsm_b.jsonl", a_in_b + b_new),
        "wiki_b": write_source(
            root / "b" / "wiki_b.jsonl", [dict(d, id=f"b-{d['id']}") for d in wiki[16:28]]
        ),
    }
    b_result = curate(against_config(b_sources, against=str(a_out)), b_out)  # the one-path form
    kept_b = records(b_out / "curated")
    from_a = _copies(kept_a, gsm[:200:10], "c-exact", rng, near=False) + _copies(
        kept_a, wiki[:16:3], "c-near", rng, near=True
    )
    from_b = _copies(kept_b, b_new[::20], "c-exact", rng, near=False) + _copies(
        kept_b, [dict(d, id=f"b-{d['id']}") for d in wiki[16:28:3]], "c-near", rng, near=True
    )
    c_new = [dict(d, id=f"c-{d['id']}") for d in gsm[2000:2200]]
    c_sources = {
        "gsm_c": write_source(
            root / "c" / "gsm_c.jsonl", [d for d in from_a + from_b if "exact" in d["id"]] + c_new
        ),
        "wiki_c": write_source(
            root / "c" / "wiki_c.jsonl", [d for d in from_a + from_b if "near" in d["id"]]
        ),
    }
    before = {"a": folder_hash(a_out), "b": folder_hash(b_out)}
    c_result = curate(against_config(c_sources, against=[str(a_out), str(b_out)]), root / "C_out")
    after = {"a": folder_hash(a_out), "b": folder_hash(b_out)}
    control = curate(against_config(c_sources, against=[str(b_out)]), root / "C_against_B_only")
    return {
        "root": root,
        "a_out": a_out,
        "b_out": b_out,
        "c_out": root / "C_out",
        "b_result": b_result,
        "c_result": c_result,
        "control": control,
        "c_sources": c_sources,
        "a_in_b": {d["id"] for d in a_in_b},
        "from_a": {d["id"] for d in from_a},
        "from_b": {d["id"] for d in from_b},
        "c_new": {d["id"] for d in c_new},
        "before": before,
        "after": after,
    }


def _dropped_against(out: Path) -> set[str]:
    removed = records(out / "removed")
    return {i for i, r in removed.items() if r["metadata"]["filter_reason"] == "dedup_against"}


def test_c_drops_its_copies_of_a_and_of_b_exact_and_near_as_dedup_against(chain):
    near_a = {i for i in chain["from_a"] if i.startswith("c-near")}
    near_b = {i for i in chain["from_b"] if i.startswith("c-near")}
    assert len(chain["from_a"] - near_a) >= 15 and len(near_a) >= 5 and len(near_b) >= 3
    assert len(chain["from_b"] - near_b) >= 8
    assert _dropped_against(chain["c_out"]) == chain["from_a"] | chain["from_b"]
    step = next(s for s in chain["c_result"].funnel["steps"] if s["step"] == "dedup")
    assert step["reasons"]["dedup_against"] == len(chain["from_a"] | chain["from_b"])


def test_c_keeps_its_new_documents(chain):
    kept = records(chain["c_out"] / "curated")
    assert not (chain["from_a"] | chain["from_b"]) & set(kept)
    removed = records(chain["c_out"] / "removed")
    lost = {i: removed[i]["metadata"]["filter_reason"] for i in chain["c_new"] if i not in kept}
    assert all(reason != "dedup_against" for reason in lost.values())
    assert len(lost) <= 0.02 * len(chain["c_new"]), lost  # only the usual filters (clean GSM8K: <= 2 %)


def test_b_index_lacks_what_b_dropped_so_c_against_b_alone_keeps_the_copies_of_a(chain):
    assert chain["a_in_b"] <= _dropped_against(chain["b_out"])  # B dropped its copies of A...
    kept = records(chain["control"].out_dir / "curated")
    copied_by_b = {f"c-exact-{i.removeprefix('b-copy-')}" for i in chain["a_in_b"]}
    assert copied_by_b & chain["from_a"] and copied_by_b & chain["from_a"] <= set(kept)  # ...not indexed them
    assert chain["from_a"] <= set(kept)
    assert _dropped_against(chain["control"].out_dir) == chain["from_b"]


def test_a_and_b_outputs_are_byte_identical_after_c(chain):
    assert chain["before"] == chain["after"]


def test_summary_and_index_manifest_name_the_corpora_deduplicated_against(chain):
    a, b = str(chain["a_out"].resolve()), str(chain["b_out"].resolve())
    c_summary = json.loads((chain["c_out"] / "reports" / "summary.json").read_text())
    assert c_summary["dedup"]["against"] == [a, b]
    assert json.loads((chain["c_out"] / "dedup_index" / "manifest.json").read_text())["against"] == [a, b]
    # the one-path form (B) as before: a path in its summary; its manifest lists it
    b_summary = json.loads((chain["b_out"] / "reports" / "summary.json").read_text())
    assert b_summary["dedup"]["against"] == a
    assert json.loads((chain["b_out"] / "dedup_index" / "manifest.json").read_text())["against"] == [a]
    a_manifest = json.loads((chain["a_out"] / "dedup_index" / "manifest.json").read_text())
    assert a_manifest["against"] == []


def _refusal(chain, tmp_path, against, error=ValueError):
    with pytest.raises(error) as caught:
        run_curation(against_config(chain["c_sources"], against=against), tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_incompatible_index_in_the_list_is_refused_naming_both_configs_and_which_path(chain, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(chain["a_out"] / "dedup_index", other / "dedup_index")
    manifest = json.loads((other / "dedup_index" / "manifest.json").read_text())
    manifest["settings"].update(n_grams=3, seed=7)
    (other / "dedup_index" / "manifest.json").write_text(json.dumps(manifest))
    message = _refusal(chain, tmp_path, [str(chain["a_out"]), str(other)])
    assert message.startswith(f"dedup.against[1]: {other.resolve()} was indexed with n_grams=3, seed=7")
    assert "but this run has n_grams=5, seed=1" in message


def test_a_missing_duplicated_or_own_folder_is_refused_naming_its_list_key(chain, tmp_path):
    a, b = str(chain["a_out"]), str(chain["b_out"])
    message = _refusal(chain, tmp_path, [a, str(tmp_path / "nowhere")], FileNotFoundError)
    assert message.startswith(f"dedup.against[1]: {(tmp_path / 'nowhere').resolve()}: no such folder;")
    assert "point it at a finished `midtrain curate` output folder" in message
    message = _refusal(chain, tmp_path, [a, b, str(chain["a_out"] / ".." / "A_out")])
    assert message == (
        f"dedup.against[2]: {chain['a_out'].resolve()} is listed twice (also dedup.against[0]); "
        "list each corpus once"
    )
    message = _refusal(chain, tmp_path, [a, str(tmp_path / "out")])  # the folder this run writes
    assert message.startswith(
        f"dedup.against[1]: {(tmp_path / 'out').resolve()} is this run's own output folder"
    )
    assert not (tmp_path / "out").exists()  # refused before any work


def test_yaml_list_is_resolved_beside_the_file_and_an_empty_list_is_refused(chain, tmp_path):
    (tmp_path / "runs").mkdir()
    for name in ("A_out", "B_out"):
        (tmp_path / "runs" / name).symlink_to(chain[name[0].lower() + "_out"])
    source = chain["c_sources"]["gsm_c"]
    head = f"sources:\n  - {{name: gsm_c, path: {source}, domain: math}}\ndedup:\n"
    (tmp_path / "c.yaml").write_text(head + "  against: [runs/A_out, runs/B_out]\n")
    config = CurationConfig.from_yaml(tmp_path / "c.yaml")
    assert config.dedup.against == [str(tmp_path / "runs" / "A_out"), str(tmp_path / "runs" / "B_out")]
    (tmp_path / "empty.yaml").write_text(head + "  against: []\n")
    with pytest.raises(ValueError, match=r"dedup\.against: an empty list; give at least one") as caught:
        CurationConfig.from_yaml(tmp_path / "empty.yaml")
    assert "\n" not in str(caught.value)

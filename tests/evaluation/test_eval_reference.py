"""Reference sets: read from jsonl/parquet/text or the held-out slices; the verdict uses them."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import write_heldout, write_jsonl
from test_eval_retention import _losses

from evaluation.config import EvalConfig, ReferenceSetConfig
from evaluation.reference import read_reference, read_references
from evaluation.report import retention_basis_sentence
from evaluation.retention import gains_retention, summarize


def test_reference_files_in_every_format(tmp_path):
    jsonl = write_jsonl(
        tmp_path / "a.jsonl.gz", [{"text": "one"}, {"text": "two", "metadata": {"domain": "x"}}]
    )
    pl.DataFrame({"content": ["three", "four"]}).write_parquet(tmp_path / "b.parquet")
    (tmp_path / "c.txt").write_text("para one\nstill one\n\n\npara two\n")
    assert read_reference(ReferenceSetConfig(path=jsonl), name="r") == ["one", "two"]
    parquet = ReferenceSetConfig(path=tmp_path / "b.parquet", text_key="content")
    assert read_reference(parquet, name="r") == ["three", "four"]
    assert read_reference(ReferenceSetConfig(path=tmp_path / "c.txt"), name="r") == [
        "para one\nstill one",
        "para two",
    ]
    lines = ReferenceSetConfig(path=tmp_path / "c.txt", split_by="line")
    assert read_reference(lines, name="r") == ["para one", "still one", "para two"]
    only_x = ReferenceSetConfig(path=jsonl, domain="x")
    assert read_reference(only_x, name="r") == ["two"]


def test_reference_errors_name_the_key(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"body": "no text key"}])
    with pytest.raises(ValueError, match=r"bad.jsonl:1: missing key 'text'.*text_key"):
        read_reference(ReferenceSetConfig(path=bad), name="r")
    with pytest.raises(FileNotFoundError, match="reference_sets"):
        read_reference(ReferenceSetConfig(path=tmp_path / "missing"), name="r")
    with pytest.raises(ValueError, match="path` or `domain"):
        ReferenceSetConfig()
    with pytest.raises(ValueError, match="heldout_dir"):
        EvalConfig(reference_sets={"pre": {"domain": "general"}})


def test_reference_from_heldout_domain_and_shorthand_path(tmp_path):
    root = write_heldout(tmp_path / "cur")
    config = EvalConfig(heldout_dir=root, reference_sets={"pre": {"domain": "general"}, "file": str(root)})
    assert config.reference_sets["file"].path == root
    from evaluation.heldout import read_heldout

    heldout = read_heldout(root)
    refs = read_references({"pre": config.reference_sets["pre"]}, heldout)
    assert refs == {"reference:pre": heldout["general"]}
    with pytest.raises(ValueError, match="domain 'web' not in the held-out slices"):
        read_references({"w": ReferenceSetConfig(domain="web")}, heldout)


def _verdict(values, references):
    table = gains_retention(
        _losses(values),
        base="base",
        target_domains=["math"],
        general_domains=["general"],
        reference_domains=references,
        forgetting_threshold=0.05,
    )
    return {r["checkpoint"]: r for r in summarize(table, list(values)).iter_rows(named=True)}


def test_verdict_uses_reference_sets_when_given_else_general():
    values = {
        # the anneal's general data is new to the model: its loss falls; the original distribution's rises
        "base": {"math": 4.0, "general": 6.0, "reference:pre": 3.0},
        "anneal": {"math": 3.0, "general": 5.0, "reference:pre": 3.4},
    }
    with_ref = _verdict(values, ["reference:pre"])["anneal"]
    assert with_ref["retention_basis"] == "reference" and with_ref["forgetting"]
    assert with_ref["reference_change"] == pytest.approx(0.4)
    assert with_ref["general_change"] == pytest.approx(-1.0)
    without = _verdict(values, [])["anneal"]
    assert without["retention_basis"] == "general" and not without["forgetting"]
    assert without["reference_change"] is None


def test_report_says_what_retention_is_measured_on():
    assert "reference set(s) `reference:pre`" in retention_basis_sentence(["pre"], ["general"])
    plain = retention_basis_sentence([], ["general"])
    assert "No reference set given" in plain and "anneal's own general data (`general`)" in plain

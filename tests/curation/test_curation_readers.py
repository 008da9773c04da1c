"""Readers: formats, bad input to rejects/, clear errors before work starts."""

import gzip
import json

import pytest
import zstandard

from curation.config import SourceConfig
from curation.readers import SourcesReader, preflight_source


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_bad_input_is_counted_and_logged_with_file_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    lines = [
        b'{"text": "good one"}\n',
        b'{"text": broken\n',
        b'{"text": "bad \xff bytes"}\n',
        b'{"text": "   "}\n',
        b'{"text": "' + b"x" * 500 + b'"}\n',
        b'{"other": "no text"}\n',
        b'{"text": "good two", "id": "k2"}\n',
    ]
    path.write_bytes(b"".join(lines))
    reader = SourcesReader(
        [SourceConfig(name="s", path=str(path), id_key="id")], str(tmp_path / "rej"), max_doc_bytes=100
    )
    docs = list(reader.run(rank=0, world_size=1))
    assert [d.text for d in docs] == ["good one", "good two"]
    assert docs[1].id == "k2" and docs[0].metadata["source"] == "s"
    rejects = [json.loads(x) for x in (tmp_path / "rej" / "00000.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "malformed_json"),
        (3, "non_utf8"),
        (4, "empty"),
        (5, "too_large"),
        (6, "missing_text_key"),
    ]
    assert all(r["file"] == str(path) for r in rejects)
    assert reader.stats["rejected"].total == 5


def test_compressed_parquet_text_and_hf_disk(tmp_path):
    import datasets
    import polars as pl

    rows = [{"content": f"doc {i}"} for i in range(3)]
    (tmp_path / "z").mkdir()
    _write_jsonl(tmp_path / "z" / "a.jsonl", rows)
    with gzip.open(tmp_path / "z" / "b.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "z" / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    )
    pl.DataFrame({"content": ["p1", "p2"]}).write_parquet(tmp_path / "d.parquet")
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "one.txt").write_text("plain text file")
    datasets.Dataset.from_dict({"body": ["h1", "h2", "h3"]}).save_to_disk(str(tmp_path / "hf"))
    sources = [
        SourceConfig(name="js", path=str(tmp_path / "z"), text_key="content"),
        SourceConfig(name="pq", path=str(tmp_path / "d.parquet"), text_key="content"),
        SourceConfig(name="tx", path=str(tmp_path / "txt")),
        SourceConfig(name="hf", path=str(tmp_path / "hf"), text_key="body"),
    ]
    for s in sources:
        preflight_source(s)
    reader = SourcesReader(sources, str(tmp_path / "rej"))
    texts = [d.text for r in range(2) for d in reader.run(rank=r, world_size=2)]
    assert sorted(texts) == sorted(
        ["doc 0", "doc 1", "doc 2"] * 3 + ["p1", "p2", "plain text file", "h1", "h2", "h3"]
    )


def test_preflight_names_file_and_key(tmp_path):
    path = tmp_path / "a.jsonl"
    _write_jsonl(path, [{"body": "x"}])
    with pytest.raises(ValueError, match=r"a\.jsonl:1: no key 'text'.*body"):
        preflight_source(SourceConfig(name="s", path=str(path)))
    with pytest.raises(FileNotFoundError, match="source 'm'.*does not exist"):
        preflight_source(SourceConfig(name="m", path=str(tmp_path / "missing.jsonl")))

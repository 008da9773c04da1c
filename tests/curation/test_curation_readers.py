"""Readers: formats, bad input to rejects/, clear errors before work starts."""

import gzip
import json
import os
import re
from pathlib import Path

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


# --- plain-text files cut into documents (SourceConfig.split_by / split_pattern) -------------

_TEXT = "Title one\nfirst para line\nsecond line\n\n\n  \nnext para\n\nlast one\n"


def _read(tmp_path, source, max_doc_bytes=1_000_000):
    reader = SourcesReader([source], str(tmp_path / "rej"), max_doc_bytes=max_doc_bytes)
    docs = list(reader.run(rank=0, world_size=1))
    rej_file = tmp_path / "rej" / "00000.jsonl"
    rejects = [json.loads(x) for x in rej_file.read_text().splitlines()]
    return docs, rejects, reader.stats.to_dict()["stats"]


@pytest.mark.parametrize(
    ("options", "texts", "lines"),
    [
        ({}, [_TEXT], [1]),
        (
            {"split_by": "paragraphs"},
            ["Title one\nfirst para line\nsecond line", "next para", "last one"],
            [1, 7, 9],
        ),
        (
            {"split_by": "lines"},
            ["Title one", "first para line", "second line", "next para", "last one"],
            [1, 2, 3, 7, 9],
        ),
        (
            {"split_pattern": r"^(Title|next)"},
            ["Title one\nfirst para line\nsecond line", "next para\n\nlast one"],
            [1, 7],
        ),
    ],
)
def test_text_split_rules_keep_text_and_first_line(tmp_path, options, texts, lines):
    path = tmp_path / "a.txt"
    path.write_text(_TEXT)
    docs, rejects, _ = _read(tmp_path, SourceConfig(name="t", path=str(path), **options))
    assert [d.text for d in docs] == texts and rejects == []
    assert [int(d.id.rsplit("/", 1)[1]) for d in docs] == lines


def test_pattern_keeps_preamble_and_implies_split_by():
    source = SourceConfig(name="t", path="x.txt", split_pattern="^= ")
    assert source.split_by == "pattern"
    with pytest.raises(ValueError, match="needs split_pattern"):
        SourceConfig(name="t", path="x.txt", split_by="pattern")
    with pytest.raises(ValueError, match="exclusive"):
        SourceConfig(name="t", path="x.txt", split_by="paragraphs", split_pattern="^=")
    with pytest.raises(ValueError, match="not a valid regex"):
        SourceConfig(name="t", path="x.txt", split_pattern="^(unclosed")


def test_large_text_file_is_rejected_loudly_with_the_fix(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(("a line of prose here\n" * 10 + "\n") * 20)  # ~4.4 kB
    docs, rejects, stats = _read(tmp_path, SourceConfig(name="big", path=str(path)), max_doc_bytes=1000)
    assert docs == [] and [r["reason"] for r in rejects] == ["file_too_large"]
    assert str(path) in rejects[0]["detail"] and "split_by: paragraphs" in rejects[0]["detail"]
    assert stats["read/big"] == 0 and stats["rejected/big/file_too_large"] == 1
    docs, rejects, _ = _read(
        tmp_path, SourceConfig(name="big", path=str(path), split_by="paragraphs"), max_doc_bytes=1000
    )
    assert len(docs) == 20 and rejects == []


def test_split_piece_over_the_limit_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("small one\n\n" + "long line of text\n" * 100 + "\nsmall two\n")
    docs, rejects, _ = _read(
        tmp_path, SourceConfig(name="t", path=str(path), split_by="paragraphs"), max_doc_bytes=500
    )
    assert [d.text for d in docs] == ["small one", "small two"]
    assert [(r["line"], r["reason"]) for r in rejects] == [(3, "too_large")]
    assert f"{path}:3" in rejects[0]["detail"]


def test_binary_file_as_text_is_a_counted_reject(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "d" / "ok.txt").write_text("fine text")
    docs, rejects, stats = _read(tmp_path, SourceConfig(name="b", path=str(tmp_path / "d")))
    assert [d.text for d in docs] == ["fine text"]
    assert [r["reason"] for r in rejects] == ["binary_file"] and "blob.txt" in rejects[0]["detail"]
    assert stats["rejected/b/binary_file"] == 1 and stats["read/b"] == 1


# --- text_template -------------------------------------------------------------------------


def test_text_template_builds_text_and_counts_missing_fields(tmp_path):
    path = tmp_path / "qa.jsonl"
    _write_jsonl(
        path,
        [
            {"question": "1+1?", "answer": "2", "id": 7},
            {"question": "no answer"},
            {"question": "q", "answer": None},
            {"question": "3*3?", "answer": 9},
        ],
    )
    source = SourceConfig(name="qa", path=str(path), text_template="Question: {question}\nAnswer: {answer}")
    docs, rejects, stats = _read(tmp_path, source)
    assert [d.text for d in docs] == ["Question: 1+1?\nAnswer: 2", "Question: 3*3?\nAnswer: 9"]
    assert docs[0].id == "7"
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "missing_template_field")] * 1 + [
        (3, "missing_template_field")
    ]
    assert "'answer'" in rejects[0]["excerpt"]
    assert stats["rejected/qa/missing_template_field"] == 2


def test_text_template_on_parquet_reads_only_its_columns(tmp_path):
    import polars as pl

    path = tmp_path / "p.parquet"
    pl.DataFrame({"prompt": ["def f():"], "solution": ["    return 1"], "junk": [1]}).write_parquet(path)
    source = SourceConfig(name="p", path=str(path), text_template="{prompt}\n{solution}")
    preflight_source(source)
    docs, _, _ = _read(tmp_path, source)
    assert [d.text for d in docs] == ["def f():\n    return 1"]


def test_text_template_config_errors_and_preflight(tmp_path):
    with pytest.raises(ValueError, match="mutually exclusive"):
        SourceConfig(name="s", path="x", text_key="body", text_template="{a}")
    with pytest.raises(ValueError, match="names no field"):
        SourceConfig(name="s", path="x", text_template="no fields")
    with pytest.raises(ValueError, match="must be a record key"):
        SourceConfig(name="s", path="x", text_template="{a.b}")
    with pytest.raises(ValueError, match="literal braces"):
        SourceConfig(name="s", path="x", text_template="{a")
    path = tmp_path / "qa.jsonl"
    _write_jsonl(path, [{"question": "q", "solution": "s"}])
    with pytest.raises(
        ValueError, match=r"source 'qa': .*qa\.jsonl:1: text_template field 'answer'.*question"
    ):
        preflight_source(SourceConfig(name="qa", path=str(path), text_template="{question} {answer}"))
    (tmp_path / "a.txt").write_text("plain")
    with pytest.raises(ValueError, match="plain-text file"):
        preflight_source(SourceConfig(name="t", path=str(tmp_path / "a.txt"), text_template="{text}"))


# --- broken files --------------------------------------------------------------------------


def _rows(n):
    return "".join(json.dumps({"text": f"document {i} " * 30}) + "\n" for i in range(n)).encode()


def test_truncated_and_garbage_compressed_files_are_counted_and_the_run_goes_on(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    full = gzip.compress(_rows(1000))
    (d / "a_trunc.jsonl.gz").write_bytes(full[: len(full) // 2])
    (d / "b_garbage.jsonl.gz").write_bytes(b"not gzip at all\n" * 20)
    zst = zstandard.ZstdCompressor().compress(_rows(1000))
    (d / "c_trunc.jsonl.zst").write_bytes(zst[: len(zst) // 2])
    (d / "d_good.jsonl").write_bytes(_rows(3))
    source = SourceConfig(name="c", path=str(d))
    preflight_source(source)  # broken files are the reader's to count, not a preflight abort
    docs, rejects, stats = _read(tmp_path, source)
    corrupt = {Path(r["file"]).name: r for r in rejects if r["reason"] == "corrupt_file"}
    assert sorted(corrupt) == ["a_trunc.jsonl.gz", "b_garbage.jsonl.gz", "c_trunc.jsonl.zst"]
    assert (
        "EOFError" in corrupt["a_trunc.jsonl.gz"]["detail"]
        and "after" in corrupt["a_trunc.jsonl.gz"]["detail"]
    )
    assert "at the start" in corrupt["b_garbage.jsonl.gz"]["detail"]
    assert "truncated" in corrupt["c_trunc.jsonl.zst"]["detail"]
    kept_trunc = sum("a_trunc" in d.id for d in docs)
    assert 0 < kept_trunc < 1000 and f"after {kept_trunc} records" in corrupt["a_trunc.jsonl.gz"]["detail"]
    assert sum("d_good" in d.id for d in docs) == 3
    assert stats["rejected/c/corrupt_file"] == 3


def test_zstd_multi_frame_file_reads_whole(tmp_path):
    rows = _rows(50)
    c = zstandard.ZstdCompressor()
    (tmp_path / "m.jsonl.zst").write_bytes(c.compress(rows[:1000]) + c.compress(rows[1000:]))
    docs, rejects, _ = _read(tmp_path, SourceConfig(name="m", path=str(tmp_path / "m.jsonl.zst")))
    assert len(docs) == 50 and rejects == []


def test_damaged_parquet_is_a_counted_reject(tmp_path):
    import polars as pl

    pl.DataFrame({"text": [f"row {i}" for i in range(100)]}).write_parquet(tmp_path / "p.parquet")
    raw = (tmp_path / "p.parquet").read_bytes()
    (tmp_path / "p.parquet").write_bytes(raw[: len(raw) // 2])
    docs, rejects, _ = _read(tmp_path, SourceConfig(name="p", path=str(tmp_path / "p.parquet")))
    assert docs == [] and [r["reason"] for r in rejects] == ["corrupt_file"]


def test_per_source_counters_exist_even_at_zero(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "ok.jsonl").write_text('{"text": "x"}\n')
    reader = SourcesReader(
        [
            SourceConfig(name="e", path=str(tmp_path / "empty.jsonl")),
            SourceConfig(name="o", path=str(tmp_path / "ok.jsonl")),
        ],
        str(tmp_path / "rej"),
    )
    list(reader.run())
    stats = reader.stats.to_dict()["stats"]
    assert stats["read/e"] == 0 and stats["rejected/e"] == 0 and stats["read/o"] == 1


# --- the real files in shared/data ----------------------------------------------------------


def _shared_data() -> Path:
    for candidate in (
        os.environ.get("MIDTRAIN_SHARED_DATA"),
        Path(__file__).resolve().parents[3] / "shared" / "data",
    ):
        if candidate and (Path(candidate) / "wikitext2_valid.txt").is_file():
            return Path(candidate)
    pytest.skip("real data folder shared/data (wikitext2_valid.txt) is absent; set MIDTRAIN_SHARED_DATA")


def test_real_wikitext_splits_into_its_articles(tmp_path):
    path = _shared_data() / "wikitext2_valid.txt"
    heading = r"^ = [^=].* = $"
    num_headings = sum(bool(re.match(heading, line.rstrip("\n"))) for line in path.open())
    docs, rejects, stats = _read(tmp_path, SourceConfig(name="wiki", path=str(path), split_pattern=heading))
    assert rejects == [] and len(docs) == num_headings and 50 <= num_headings <= 70
    assert all(re.match(heading, d.text.splitlines()[0]) for d in docs)
    whole, rejects, _ = _read(tmp_path, SourceConfig(name="wiki", path=str(path)))  # 1.1 MB > 1 MB
    assert whole == [] and rejects[0]["reason"] == "file_too_large"


def test_real_shakespeare_paragraphs_are_speeches(tmp_path):
    path = _shared_data() / "tinyshakespeare.txt"
    docs, rejects, _ = _read(tmp_path, SourceConfig(name="sh", path=str(path), split_by="paragraphs"))
    assert rejects == [] and len(docs) > 5000
    assert docs[0].text == "First Citizen:\nBefore we proceed any further, hear me speak."
    assert sum(d.text.split("\n", 1)[0].endswith(":") for d in docs) / len(docs) > 0.95


def test_preflight_warns_about_text_files_too_large_to_read_whole(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("some prose\n" * 200)
    with pytest.warns(
        UserWarning, match=r"source 'big': 1 of 1 text files are over max_doc_bytes=1,000.*split_by"
    ):
        preflight_source(SourceConfig(name="big", path=str(path)), max_doc_bytes=1000)
    preflight_source(SourceConfig(name="big", path=str(path), split_by="paragraphs"), max_doc_bytes=1000)

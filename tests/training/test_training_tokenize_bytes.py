"""Text-source token files pinned byte for byte: what `tokenize_curated` wrote before its fast path.

The expected files are computed here from first principles (plain ``Tokenizer.encode`` plus the
documented layout: BOS when the tokenizer's template adds one, the tokens, EOS; uint16/uint32
little endian; uint64 cumulative ends; datatrove's ``.ds.metadata``; float32 curriculum keys, NaN
where missing), and they equal the files datatrove's ``JsonlReader -> DocumentTokenizer`` pipeline
wrote (the implementation this file was written against, before the batched writer replaced it).
Reader semantics are pinned too: records without text, blank and malformed lines are skipped;
keys outside ``metadata`` join it (datatrove's default adapter); a file with no document still
gets its (empty) shard. The same bytes come out with one worker or two.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import re
from pathlib import Path

import humanize
import numpy as np
import polars as pl
import pytest
from shared_data import LLAMA, SHARED, WIKITEXT, gsm8k_rows, needs_shared

from training.tokenize import TokenizeConfig, tokenize_curated
from training.tokenize.tokenizer import train_bpe

DOC_KEYS = {
    "difficulty": ("difficulty_score", "difficulty_tier", "difficulty"),
    "quality": ("quality_score", "quality"),
}


def _key(meta: dict, names: tuple[str, ...]) -> float:
    for name in names:
        v = meta.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return math.nan


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def _docs_of(lines: list[str]) -> list[tuple[str, dict]]:
    """(text, metadata as datatrove's adapter builds it) of the records the reader keeps."""
    docs = []
    for line in (part for raw in lines for part in re.split(r"\r\n|\r", raw)):  # text-mode lines
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # blank or malformed: skipped with a warning
        meta = rec.pop("metadata", {})
        if isinstance(meta, str):
            with contextlib.suppress(json.JSONDecodeError):
                meta = json.loads(meta)
        if not isinstance(meta, dict):
            meta = {"metadata": meta}
        text = rec.pop("text", "")
        rec.pop("id", None)
        if text:
            docs.append((text, meta | rec))
    return docs


def _expected_files(docs, tokenizer_json: Path, *, bos: int | None, eos: int) -> dict[str, bytes]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    width = 4 if tok.get_vocab_size() > 65536 else 2
    ids = [
        ([bos] if bos is not None else []) + e.ids + [eos]
        for e in tok.encode_batch([t for t, _ in docs], add_special_tokens=False)
    ]
    flat = [i for doc in ids for i in doc]
    n = len(flat)
    files = {
        "00000_unshuffled.ds": np.asarray(flat, dtype="<u4" if width == 4 else "<u2").tobytes(),
        "00000_unshuffled.ds.index": np.cumsum([len(d) for d in ids], dtype=np.uint64)
        .astype("<u8")
        .tobytes(),
        "00000_unshuffled.ds.metadata": f"{tokenizer_json}|{width}\n{n}\n{humanize.metric(n, unit='T')}".encode(),
    }
    for name, keys in DOC_KEYS.items():
        column = [_key(meta, keys) for _, meta in docs]
        if any(not math.isnan(v) for v in column):
            files[f"00000_unshuffled.ds.{name}"] = np.asarray(column, dtype="<f4").tobytes()
    return files


def _files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _real_sources(root: Path) -> dict[str, list[str]]:
    """Three real sources (math, prose, code) as curated jsonl lines, with curation's metadata."""
    from curation.real_sets import wikitext_articles

    gsm = [
        json.dumps(
            {
                "text": f"Question: {r['question']}\nAnswer: {r['answer']}",
                "id": f"gsm-{i}",
                "metadata": {"difficulty_tier": i % 3, "quality_score": round(0.5 + i / 1000, 3)},
            }
        )
        for i, r in enumerate(gsm8k_rows(300))
    ]
    wiki = [
        json.dumps(
            {"text": t, "id": f"wiki-{i}", "metadata": {"difficulty_score": i / 10}}, ensure_ascii=False
        )
        for i, t in enumerate(wikitext_articles(WIKITEXT)[:8])
    ]
    with gzip.open(SHARED / "flask_code.jsonl.gz", "rt", encoding="utf-8") as f:
        code = [
            json.dumps({"text": json.loads(line)["text"], "id": f"flask-{i}"}) for i, line in enumerate(f)
        ]
    sources = {"math": gsm, "prose": wiki, "code": code[:40]}
    for name, lines in sources.items():
        _write_jsonl(root / "curated" / name / "00000.jsonl.gz", lines)
    return sources


@needs_shared
@pytest.mark.parametrize("workers", [1, 2])
def test_real_text_llama_shards_are_the_documented_bytes(tmp_path, workers):
    sources = _real_sources(tmp_path / "run")
    out = tmp_path / "tokens"
    counts = tokenize_curated(
        tmp_path / "run", out, TokenizeConfig(tokenizer=str(LLAMA), num_workers=workers)
    )
    for name, lines in sources.items():
        docs = _docs_of(lines)
        expected = _expected_files(docs, out / "tokenizer.json", bos=1, eos=2)  # <s> ... </s>
        assert _files_in(out / name) == expected, name
        row = counts.filter(pl.col("source") == name).row(0, named=True)
        assert row["num_docs"] == len(docs)
    assert not (out / "code" / "00000_unshuffled.ds.difficulty").exists()  # no keys: no sidecar


EDGE_FILES = {
    "00000.jsonl.gz": [
        json.dumps(
            {"text": "alpha beta gamma ünïcødé ✓ 数学", "id": "a", "metadata": {"difficulty_tier": 2}}
        ),
        json.dumps({"text": "", "id": "empty", "metadata": {"difficulty_tier": 1}}),  # no text: skipped
        "",  # blank line
        "{not json",  # malformed: skipped
        json.dumps({"text": "top level keys join the metadata", "id": "b", "quality_score": 0.25}),
        json.dumps({"text": "a bool is no key", "id": "c", "metadata": {"difficulty_score": True}}),
        json.dumps({"id": "d", "metadata": {}}),  # no text key at all
        json.dumps({"text": "delta\n\nepsilon", "metadata": {"quality_score": 0.5, "difficulty_tier": 0}}),
        json.dumps({"text": "metadata as a JSON string", "metadata": json.dumps({"difficulty_tier": 3})}),
        json.dumps({"text": "metadata not an object", "metadata": 7, "difficulty_tier": 1}),
        # a lone CR ends a line for a text-mode reader: two records
        json.dumps({"text": "before a CR", "metadata": {"quality_score": 0.9}})
        + "\r"
        + json.dumps({"text": "after"}),
        json.dumps({"text": "a CRLF line"}) + "\r",
    ],
    "00001.jsonl.gz": [
        json.dumps({"text": f"plain document {i} " * (i + 1), "id": f"p{i}"}) for i in range(30)
    ],
    "00002.jsonl.gz": [json.dumps({"text": "", "id": "only-empty"})],  # a file with no document
}


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory) -> Path:
    texts = [text for lines in EDGE_FILES.values() for text, _ in _docs_of(lines)]
    tok = train_bpe(
        iter(texts * 20 + ["row of a parquet source, ünï 0123456789"]), vocab_size=300, min_frequency=1
    )
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_reader_semantics_and_shard_per_file_are_pinned(tmp_path, small_tokenizer, workers):
    for name, lines in EDGE_FILES.items():
        _write_jsonl(tmp_path / "run" / "curated" / "edge" / name, lines)
    out = tmp_path / "tokens"
    config = TokenizeConfig(tokenizer=str(small_tokenizer), num_workers=workers, batch_size=7)
    counts = tokenize_curated(tmp_path / "run", out, config)
    got = _files_in(out / "edge")
    expected = {}
    for rank, lines in enumerate(EDGE_FILES.values()):
        files = _expected_files(_docs_of(lines), out / "tokenizer.json", bos=None, eos=0)
        expected |= {name.replace("00000_", f"{rank:05d}_"): data for name, data in files.items()}
    assert got == expected
    assert got["00002_unshuffled.ds"] == b"" and got["00002_unshuffled.ds.index"] == b""
    assert counts["num_docs"].item() == 9 + 30


def test_parquet_source_bytes(tmp_path, small_tokenizer):
    texts = [f"row {i} of a parquet source, ünï {i * 7}" for i in range(25)]
    folder = tmp_path / "run" / "curated" / "pq"
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "text": texts,
            "id": [str(i) for i in range(25)],
            "metadata": [{"difficulty_tier": i % 4, "quality_score": None} for i in range(25)],
        }
    ).write_parquet(folder / "00000.parquet")
    out = tmp_path / "tokens"
    tokenize_curated(tmp_path / "run", out, TokenizeConfig(tokenizer=str(small_tokenizer)))
    docs = [(t, {"difficulty_tier": i % 4, "quality_score": None}) for i, t in enumerate(texts)]
    assert _files_in(out / "pq") == _expected_files(docs, out / "tokenizer.json", bos=None, eos=0)

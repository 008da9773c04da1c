"""The pipeline's gzip writer: datatrove's JSON lines, byte for byte once decompressed, at the chosen level."""

import gzip

import pytest
from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from curation.writers import GzipJsonlWriter


def _docs():
    return [
        Document(text="First document.\nWith two lines.", id="a", metadata={"source": "wiki", "score": 0.25}),
        Document(
            text="Déjà vu 😀", id="b", metadata={"source": "web", "tags": ["x", 1], "nested": {"k": None}}
        ),
        Document(text="", id="c", metadata={"source": "wiki"}),  # empty text: left out, as datatrove does
    ]


def _write(writer, docs):
    with writer:
        for doc in docs:
            writer.write(doc, rank=0)


def test_same_json_lines_as_datatrove_and_readable_by_gzip_and_datatrove(tmp_path):
    _write(JsonlWriter(str(tmp_path / "stock"), output_filename="${source}/${rank}.jsonl.gz"), _docs())
    _write(GzipJsonlWriter(str(tmp_path / "fast"), "${source}/${rank}.jsonl.gz", level=1), _docs())
    stock = sorted(p.relative_to(tmp_path / "stock") for p in (tmp_path / "stock").rglob("*.gz"))
    fast = sorted(p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*.gz"))
    assert stock == fast and len(fast) == 2
    for rel in fast:
        want = gzip.decompress((tmp_path / "stock" / rel).read_bytes())
        assert gzip.decompress((tmp_path / "fast" / rel).read_bytes()) == want
    read = list(JsonlReader(str(tmp_path / "fast"), recursive=True).run())
    assert sorted(d.id for d in read) == ["a", "b"]  # the reader skips a document without text
    assert next(d for d in read if d.id == "b").metadata["tags"] == ["x", 1]


def test_level_is_applied_and_output_is_reproducible(tmp_path):
    text = " ".join(f"word{i % 997} value {i * 7 % 1013}" for i in range(20000))
    docs = [Document(text=text, id=str(i), metadata={"source": "s"}) for i in range(5)]
    sizes = {}
    for level in (1, 3, 9):  # 1 and 3 through ISA-L, 9 through zlib (curation/gzip_io.py)
        for run in (0, 1):
            _write(GzipJsonlWriter(str(tmp_path / f"l{level}_{run}"), "${rank}.jsonl.gz", level=level), docs)
        first = (tmp_path / f"l{level}_0" / "00000.jsonl.gz").read_bytes()
        assert first == (tmp_path / f"l{level}_1" / "00000.jsonl.gz").read_bytes()  # mtime=0
        if level == 9:
            assert first[8] == 2  # zlib's gzip header XFL: best compression
        sizes[level] = len(first)
    assert sizes[9] < sizes[3] < sizes[1]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="must end with .gz"):
        GzipJsonlWriter("/tmp/x", "${rank}.jsonl")
    with pytest.raises(ValueError, match="level must be 1-9"):
        GzipJsonlWriter("/tmp/x", "${rank}.jsonl.gz", level=0)


@pytest.mark.parametrize(
    "template", ["${source}/${rank}.jsonl.gz", "${rank}.jsonl.gz", "${source}_${id}.jsonl.gz"]
)
def test_file_names_and_stats_are_datatroves_for_every_rank_and_source(tmp_path, template):
    """Names are remembered per (rank, fields): the files and the per-file stats must still be
    exactly the ones datatrove's writer gives, document by document and rank by rank."""
    docs = _docs()[:2] + [Document(text="Third.", id="d", metadata={"source": "wiki"})]
    for name, writer in (
        ("stock", JsonlWriter(str(tmp_path / "stock"), output_filename=template)),
        ("fast", GzipJsonlWriter(str(tmp_path / "fast"), template, level=1)),
    ):
        with writer:
            for rank in (0, 3, 0):
                for doc in docs:
                    writer.write(doc, rank=rank)
        stats = {k: v.total for k, v in writer.stats.stats.items() if k != "doc_len"}
        if name == "stock":
            stock_stats = stats
    assert stats == stock_stats and stats["total"] == 9
    names = {p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*.gz")}
    assert names == {p.relative_to(tmp_path / "stock") for p in (tmp_path / "stock").rglob("*.gz")}


def test_a_document_without_the_names_field_fails_as_in_datatrove(tmp_path):
    writer = GzipJsonlWriter(str(tmp_path), "${source}/${rank}.jsonl.gz", level=1)
    with writer:
        writer.write(_docs()[0], rank=0)
        with pytest.raises(KeyError, match="source"):
            writer.write(Document(text="no source", id="z", metadata={}), rank=0)

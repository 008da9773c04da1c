"""curation/gzip_io.py: ISA-L gzip for the run's files, read by plain ``gzip`` everywhere downstream."""

from __future__ import annotations

import gzip
import json
import zlib

import fsspec
import pytest
from isal import igzip

from curation.config import SourceConfig
from curation.gzip_io import gzip_writer
from curation.readers import SourcesReader
from curation.real_sets import find_shared_data, real_documents
from curation.writers import OUTPUT_LEVEL, WORK_LEVEL

DATA = find_shared_data()
ROWS = "".join(
    json.dumps({"text": f"line {i} of the test file, café ✓"}) + "\n" for i in range(3000)
).encode()


def _write(path, level: int, data: bytes = ROWS):
    stream = gzip_writer(open(path, "wb"), level)  # noqa: SIM115 - the stream closes it
    stream.write(data)
    stream.close()
    return stream


@pytest.mark.parametrize("level", range(1, 10))
def test_every_level_writes_gzip_that_stdlib_reads_back(tmp_path, level):
    stream = _write(tmp_path / "x.gz", level)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == ROWS
    # ISA-L has levels up to 3; above, zlib's denser levels are kept
    assert isinstance(stream, igzip.GzipFile) == (level <= 3)


def test_the_pipeline_levels_go_through_isal():
    assert WORK_LEVEL <= 3 and OUTPUT_LEVEL <= 3


def test_same_input_and_level_give_the_same_bytes(tmp_path):
    for run in ("a", "b"):  # the same file name (it is in the gzip header), two runs
        (tmp_path / run).mkdir()
        _write(tmp_path / run / "x.gz", 3)
    assert (tmp_path / "a" / "x.gz").read_bytes() == (tmp_path / "b" / "x.gz").read_bytes()


def test_closing_the_stream_closes_the_file_it_wrote_into(tmp_path):
    raw = open(tmp_path / "x.gz", "wb")  # noqa: SIM115
    stream = gzip_writer(raw, 1)
    stream.write(b"x")
    stream.close()
    assert raw.closed


@pytest.mark.parametrize("level", [0, 10])
def test_a_level_outside_1_to_9_is_refused(tmp_path, level):
    with open(tmp_path / "x.gz", "wb") as raw, pytest.raises(ValueError, match="1-9"):
        gzip_writer(raw, level)


def test_gz_files_are_read_through_isal(tmp_path):
    """What the readers rely on: fsspec (datatrove's readers, the sources and shard readers)
    decompresses .gz through ISA-L once python-isal is installed."""
    (tmp_path / "x.jsonl.gz").write_bytes(gzip.compress(ROWS, compresslevel=6))
    with fsspec.open(str(tmp_path / "x.jsonl.gz"), "rb", compression="infer") as f:
        assert isinstance(f, igzip.GzipFile)
        assert f.read() == ROWS


def test_an_invalid_deflate_block_is_a_counted_corrupt_file_and_earlier_records_are_kept(tmp_path):
    # a whole first member, then a member whose first block has the reserved type 11: ISA-L's own
    # error (not an EOFError or zlib.error), raised after the first member's 3,000 records (those
    # still in the read buffer then are lost, as with zlib)
    header = gzip.compress(b"")[:10]
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress(ROWS) + header + b"\x07" + b"\x00" * 64)
    with pytest.raises((OSError, EOFError, zlib.error)):  # stdlib gzip also refuses it
        gzip.decompress((tmp_path / "d.jsonl.gz").read_bytes())
    reader = SourcesReader([SourceConfig(name="d", path=str(tmp_path / "d.jsonl.gz"))], str(tmp_path / "rej"))
    docs = list(reader.run(rank=0, world_size=1))
    rejects = [json.loads(x) for x in (tmp_path / "rej" / "00000.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejects] == ["corrupt_file"]
    detail = rejects[0]["detail"]
    assert "d.jsonl.gz: IsalError" in detail and "re-create" in detail
    assert 2000 < len(docs) <= 3000 and f"after {len(docs)} records" in detail


@pytest.mark.skipif(DATA is None, reason="../shared/data (real public sets) is absent")
def test_on_real_text_isal_files_are_no_larger_than_zlib_at_the_same_level(tmp_path):
    docs = [d for one_set in real_documents(DATA).values() for d in one_set]
    lines = "".join(json.dumps({"text": d["text"]}) + "\n" for d in docs).encode()
    assert len(lines) > 5_000_000
    for level in (WORK_LEVEL, OUTPUT_LEVEL):
        _write(tmp_path / "isal.gz", level, lines)
        isal_size = (tmp_path / "isal.gz").stat().st_size
        assert isal_size <= 1.01 * len(gzip.compress(lines, compresslevel=level, mtime=0)), level

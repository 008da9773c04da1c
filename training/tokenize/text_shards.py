"""Text sources -> datatrove token shards, batched: one datatrove step per curated file.

`CuratedTextTokenizer` is a datatrove ``PipelineStep`` that reads its task's curated files,
encodes the texts in batches and writes the shard with numpy. It writes exactly what the former
``JsonlReader -> DocumentKeyRecorder -> DocumentTokenizer(shuffle_documents=False)`` pipeline
wrote, byte for byte (pinned by tests/training/test_training_tokenize_bytes.py):

* ``NNNNN_unshuffled.ds``: each document's ids as the tokenizer encodes it under a template of
  ``$A EOS`` (or ``BOS $A EOS``), little-endian uint16 (uint32 past 65,536 tokens);
* ``.ds.index``: uint64 cumulative document ends; ``.ds.metadata``: ``<tokenizer path>|<bytes per
  token>``, the token count and its humanized form (datatrove's format);
* ``.ds.difficulty`` / ``.ds.quality``: one float32 per document (training/tokenize/doc_keys.py),
  only when some document has a value.

Records are read as datatrove's readers do: blank and malformed lines are skipped with a
warning, a record without text is skipped, and keys outside ``metadata`` join it (the default
adapter), so the curriculum keys are the same. Unlike datatrove's text-mode reader, a line that
is not valid UTF-8 is skipped alone instead of ending the file.

Why not datatrove's steps: its reader builds a ``Document`` per record and its writer packs each
document with ``struct``, which added about a third to the encoding's CPU on real curated text
(0.74x of raw ``encode_batch`` per core, bench/bench_training_tokenize.py); here the work per
document is one ``orjson.loads`` and a list, and ``encode_batch_fast`` (same ids, no offsets)
does the encoding. It is still one datatrove step, so any datatrove executor runs it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from training.tokenize.doc_keys import DOC_KEYS, document_key

_TOKENIZERS: dict[tuple, object] = {}  # loaded tokenizers by (file digest, template): tasks share one


def load_tokenizer(path: str, eos_token: str, bos_token: str | None, bos_token_id: int | None):
    """``path``'s tokenizer with the ``[BOS] $A EOS`` template datatrove's DocumentTokenizer set."""
    from tokenizers import Tokenizer
    from tokenizers.processors import TemplateProcessing

    text = Path(path).read_text(encoding="utf-8")
    key = (hashlib.sha1(text.encode()).hexdigest(), eos_token, bos_token, bos_token_id)
    if key not in _TOKENIZERS:
        tok = Tokenizer.from_str(text)
        if bos_token is not None:
            tok.post_processor = TemplateProcessing(
                single=f"{bos_token} $A {eos_token}",
                special_tokens=[(bos_token, bos_token_id), (eos_token, tok.token_to_id(eos_token))],
            )
        else:  # datatrove's own EOS template, special token spelled "<EOS>"
            tok.post_processor = TemplateProcessing(
                single="$A <EOS>", special_tokens=[("<EOS>", tok.token_to_id(eos_token))], pair=None
            )
        _TOKENIZERS.clear()  # one corpus, one tokenizer: keep memory flat across calls
        _TOKENIZERS[key] = tok
    return _TOKENIZERS[key]


def open_curated(path: Path):
    """A curated ``.jsonl``, ``.jsonl.gz`` or ``.jsonl.zst`` file, opened for reading bytes."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".zst"):
        import zstandard

        # the zstd reader has no readline: buffered, it iterates by line like the others
        return io.BufferedReader(zstandard.open(path, "rb"))
    return path.open("rb")


def _json_lines(path: Path) -> Iterator[bytes]:
    with open_curated(path) as f:
        for line in f:
            if b"\r" in line:  # text-mode readers also end a line at a lone CR
                yield from line.replace(b"\r\n", b"\n").split(b"\r")
            else:
                yield line


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line or row number, record) of one curated file; bad lines skipped with a warning."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pqf:
            row = 0
            for batch in pqf.iter_batches(batch_size=1000):
                for record in batch.to_pylist():
                    row += 1
                    yield row, record
        return
    import orjson

    for number, line in enumerate(_json_lines(path), start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            logger.warning(f"Error when reading `{path}` line {number}: {e}")
            continue
        if not isinstance(record, dict):
            raise ValueError(f"{path} line {number}: a {type(record).__name__}, not a JSON object (a record)")
        yield number, record


def documents(path: Path, text_key: str) -> Iterator[tuple[str, dict]]:
    """(text, metadata) as datatrove's default adapter gives them; records without text skipped."""
    for number, record in _records(path):
        text = record.pop(text_key, "")
        if not text:
            continue
        if not isinstance(text, str):
            raise ValueError(f"{path} line {number}: {text_key!r} is a {type(text).__name__}, not a string")
        metadata = record.pop("metadata", {})
        if isinstance(metadata, str):
            with contextlib.suppress(json.JSONDecodeError):  # datatrove keeps a non-JSON string
                metadata = json.loads(metadata)
        if not isinstance(metadata, dict):  # datatrove nests it as {"metadata": ...}: no curriculum key
            metadata = {}
        record.pop("id", None)
        record.pop("media", None)
        yield text, (metadata | record if record else metadata)


def _batches(docs: Iterator[tuple[str, dict]], size: int) -> Iterator[list[tuple[str, dict]]]:
    batch = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class CuratedTextTokenizer(PipelineStep):
    """Task ``rank`` tokenizes ``files[rank::world_size]`` into ``output_folder/{rank:05d}_unshuffled.ds``."""

    name = "✍️ batched tokenizer"
    type = "🔢 - TOKENIZER"

    def __init__(
        self,
        files: list[str],
        output_folder: str,
        tokenizer_path: str,
        *,
        eos_token: str,
        bos_token: str | None = None,
        bos_token_id: int | None = None,
        text_key: str = "text",
        batch_size: int = 1000,
    ):
        super().__init__()
        self.files = files
        self.output_folder = output_folder
        self.tokenizer_path = tokenizer_path
        self.eos_token, self.bos_token, self.bos_token_id = eos_token, bos_token, bos_token_id
        self.text_key = text_key
        self.batch_size = batch_size

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        tok = load_tokenizer(self.tokenizer_path, self.eos_token, self.bos_token, self.bos_token_id)
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # same ids, no offsets
        width = 4 if tok.get_vocab_size() > 65536 else 2
        dtype = np.dtype("<u4" if width == 4 else "<u2")
        folder = Path(self.output_folder)
        folder.mkdir(parents=True, exist_ok=True)
        shard = folder / f"{rank:05d}_unshuffled.ds"
        lengths: list[np.ndarray] = []
        keys: dict[str, list[float]] = {name: [] for name in DOC_KEYS}
        with shard.open("wb") as out:
            for path in self.files[rank::world_size]:
                self.stat_update("input_files")
                docs = documents(Path(path), self.text_key)
                for batch in _batches(docs, self.batch_size):
                    with self.track_time(unit="batch"):
                        for name, names in DOC_KEYS.items():
                            keys[name] += [document_key(meta, names) for _, meta in batch]
                        ids = [e.ids for e in encode([text for text, _ in batch])]
                        sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
                        total = int(sizes.sum())
                        np.fromiter(chain.from_iterable(ids), dtype=dtype, count=total).tofile(out)
                        lengths.append(sizes)
                    self.stat_update("documents", value=len(batch), unit="batch")
                    self.stat_update("tokens", value=total, unit="batch")
        ends = np.cumsum(np.concatenate(lengths)) if lengths else np.zeros(0, dtype=np.int64)
        ends.astype("<u8").tofile(f"{shard}.index")
        count = int(ends[-1]) if len(ends) else 0
        import humanize

        Path(f"{shard}.metadata").write_text(
            f"{self.tokenizer_path}|{width}\n{count}\n{humanize.metric(count, unit='T')}", encoding="utf-8"
        )
        for name, column in keys.items():
            if any(not math.isnan(v) for v in column):
                np.asarray(column, dtype="<f4").tofile(f"{shard}.{name}")
        return
        yield  # a generator, as datatrove runs steps: it yields no documents

"""Plain-text files cut into documents: whole file, paragraphs, lines, or at a regex.

``SourceConfig.split_by`` picks the rule (``split_pattern`` implies ``pattern``):

- ``whole``: the file is one document. A file over ``max_doc_bytes`` is not read: it becomes one
  ``file_too_large`` reject whose detail names the file and the fix (``split_by:``).
- ``paragraphs``: runs of non-blank lines; one or more blank (whitespace-only) lines separate them.
- ``lines``: each non-blank line is a document.
- ``pattern``: a line matching ``split_pattern`` starts a new document and is its first line
  (WikiText's `` = Title = `` headings); text before the first match is a document of its own.

Files are streamed line by line, so a large file never sits in memory; a piece over the limit is
skipped as ``too_large`` with its first line number. Every record carries the 1-based line of the
first line of its piece. A file with NUL bytes near its start is one ``binary_file`` reject.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from curation.readers.records import Record

SPLIT_RULES = ("whole", "paragraphs", "lines", "pattern")
_SNIFF_BYTES = 8192
_FIX = "set `split_by: paragraphs` (or `lines`, or `split_pattern: REGEX`) for this source, or raise max_doc_bytes"


def check_split(split_by: str, split_pattern: str | None) -> str:
    """The effective rule; ValueError for a bad regex or a rule that contradicts the pattern."""
    if split_pattern is None:
        if split_by == "pattern":
            raise ValueError("split_by: pattern needs split_pattern (a regex matched against each line)")
        return split_by
    if split_by not in ("whole", "pattern"):
        raise ValueError(
            f"split_by: {split_by} and split_pattern are exclusive; split_pattern implies split_by: pattern"
        )
    try:
        re.compile(split_pattern, re.MULTILINE)
    except re.error as error:
        raise ValueError(f"split_pattern: {split_pattern!r} is not a valid regex ({error})") from None
    return "pattern"


def iter_text(
    path: str,
    *,
    split_by: str = "whole",
    split_pattern: str | None = None,
    max_bytes: int | None = None,
) -> Iterator[Record]:
    """Records ``{"text": piece}`` of a text file, cut by ``split_by``; never raises on content."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        if b"\x00" in head:
            detail = f"{path}: NUL bytes in the first {_SNIFF_BYTES} bytes: a binary file, not text"
            yield Record(1, error="binary_file", raw=head[:200], detail=detail)
            return
        f.seek(0)
        if split_by == "whole":
            yield from _whole(f, path, max_bytes)
        else:
            pattern = re.compile(split_pattern, re.MULTILINE) if split_by == "pattern" else None
            yield from _pieces(f, path, split_by, pattern, max_bytes)


def _whole(f, path: str, max_bytes: int | None) -> Iterator[Record]:
    size = os.fstat(f.fileno()).st_size
    if max_bytes and size > max_bytes:
        detail = f"{path} is {size:,} bytes, over max_doc_bytes={max_bytes:,} as one document; {_FIX}"
        yield Record(1, error="file_too_large", raw=f.read(200), detail=detail)
        return
    raw = f.read()
    try:
        yield Record(1, {"text": raw.decode("utf-8")})
    except UnicodeDecodeError as error:
        yield Record(1, error="non_utf8", raw=raw[:200], detail=f"{path}: byte {error.start}: not UTF-8")


class _Piece:
    """Lines of the document being gathered; stops keeping text once it is over the limit."""

    def __init__(self, line: int):
        self.line = line
        self.lines: list[bytes] = []
        self.num_bytes = 0
        self.too_large = False

    def add(self, raw: bytes, max_bytes: int | None) -> None:
        self.num_bytes += len(raw)
        if self.too_large:
            return
        self.lines.append(raw)
        if max_bytes and self.num_bytes > max_bytes:
            self.too_large = True
            self.lines = self.lines[:1]  # keep the first line for the rejects excerpt

    def record(self, path: str, max_bytes: int | None) -> Record | None:
        while self.lines and not self.lines[-1].strip():
            self.lines.pop()
        if not self.lines:
            return None
        raw = b"".join(self.lines)
        if self.too_large:
            detail = (
                f"{path}:{self.line}: the document starting here is {self.num_bytes:,} bytes, over "
                f"max_doc_bytes={max_bytes:,}; use a finer split_by / split_pattern or raise max_doc_bytes"
            )
            return Record(self.line, error="too_large", raw=raw[:200], detail=detail)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Record(self.line, error="non_utf8", raw=raw[:200], detail=f"{path}:{self.line}: not UTF-8")
        return Record(self.line, {"text": text.rstrip("\r\n")})


def _pieces(
    f, path: str, split_by: str, pattern: re.Pattern | None, max_bytes: int | None
) -> Iterator[Record]:
    piece: _Piece | None = None
    for line_no, raw in enumerate(f, start=1):
        blank = not raw.strip()
        if split_by == "pattern":
            starts = not blank and pattern.search(raw.decode("utf-8", "replace").rstrip("\r\n")) is not None
        else:
            starts = not blank and (split_by == "lines" or piece is None)
        if starts or (blank and split_by != "pattern"):
            if piece is not None and (record := piece.record(path, max_bytes)) is not None:
                yield record
            piece = None
        if blank and piece is None:
            continue  # blank lines before a piece belong to no document
        if piece is None:
            piece = _Piece(line_no)
        piece.add(raw, max_bytes)
    if piece is not None and (record := piece.record(path, max_bytes)) is not None:
        yield record

"""Reading labelled examples from files, and the one text normalisation every fastText model here uses.

Training and scoring must see text normalised the same way, so both go through
:func:`normalize_for_fasttext`; its version string is stored in every model's metrics JSON.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

NORMALIZATION_VERSION = "v1-lower-wordpunct-nl"

# Words and single punctuation marks: "def f(x):" -> "def f ( x ) :". fastText splits on whitespace
# only, so without this code and maths would be a soup of unique tokens like "f(x):".
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
# Line breaks carry signal (code layout, one reasoning step per line); fastText would drop them.
_NEWLINE_TOKEN = "__nl__"

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
TEXT_SUFFIXES = (".txt", ".txt.gz", ".md")


def normalize_for_fasttext(text: str, *, max_tokens: int = 1024) -> str:
    """Lower-case, split words from punctuation, mark line breaks, keep the first ``max_tokens`` tokens."""
    # Cut before tokenising: a 10 MB document must not cost a 10 MB regex pass.
    text = text[: max_tokens * 12].lower()
    tokens: list[str] = []
    for line in text.split("\n"):
        words = _TOKEN_RE.findall(line)
        if words:
            if tokens:
                tokens.append(_NEWLINE_TOKEN)
            tokens.extend(words)
        if len(tokens) >= max_tokens:
            break
    return " ".join(tokens[:max_tokens])


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl_texts(path: Path, text_key: str) -> Iterator[str]:
    # "question+answer" joins fields (GSM8K); "question+answer,prompt+canonical_solution,text" tries
    # alternatives in order, so one key spec reads files of different shapes.
    alternatives = [alt.split("+") for alt in text_key.split(",") if alt]
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            keys = next((alt for alt in alternatives if all(k in row for k in alt)), None)
            if keys is None:
                raise ValueError(
                    f"{path}:{line_no}: no text key {text_key!r}; keys present: {sorted(row)} "
                    "(set the text key, e.g. --text-key question+answer)"
                )
            yield "\n".join(str(row[k]) for k in keys)


def _paragraph_texts(path: Path, min_chars: int) -> Iterator[str]:
    # Plain text: one document per blank-line separated paragraph (WikiText, Shakespeare).
    with _open_text(path) as handle:
        block: list[str] = []
        for line in handle:
            if line.strip():
                block.append(line.rstrip("\n"))
                continue
            if block:
                text = "\n".join(block).strip()
                if len(text) >= min_chars:
                    yield text
                block = []
        if block and len("\n".join(block).strip()) >= min_chars:
            yield "\n".join(block).strip()


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.name.endswith(JSONL_SUFFIXES + TEXT_SUFFIXES)
        )
        if not files:
            raise FileNotFoundError(f"{path}: no .jsonl[.gz] or .txt[.gz] files in this folder")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return [path]


def read_texts(
    paths: str | Path | Sequence[str | Path],
    *,
    text_key: str = "text",
    min_chars: int = 1,
    limit: int | None = None,
) -> list[str]:
    """Documents from jsonl (``.jsonl``/``.jsonl.gz``, field ``text_key``) or plain-text files or folders.

    ``text_key`` may join fields with ``+`` and list alternatives with ``,`` (first match wins). Plain text is split into blank-line separated
    paragraphs; paragraphs shorter than ``min_chars`` are skipped. ``limit`` caps the total count.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    texts: list[str] = []
    for raw in paths:
        for path in _expand(Path(raw)):
            if path.name.endswith(JSONL_SUFFIXES):
                stream = (t for t in _jsonl_texts(path, text_key) if len(t) >= min_chars)
            else:
                stream = _paragraph_texts(path, min_chars)
            for text in stream:
                texts.append(text)
                if limit is not None and len(texts) >= limit:
                    return texts
    return texts

"""gzip for curation's own files through python-isal (Intel ISA-L): the same format, 4-5x less CPU.

Every document of a curation run is gzipped twice (the work shard ``filtered/`` at level 1, the
kept ``curated/`` and ``heldout/`` at level 3) and un-gzipped once. With Python's ``gzip`` (zlib)
that is three quarters of what a framework-free loop pays to move a document through the two passes
(``bench/bench_curation_floor.py``). ``isal.igzip`` writes and reads the same gzip files:
everything downstream (tokenization, the held-out loader, ``gzip.open`` in a user's notebook)
reads them unchanged. ``bench/bench_curation_gzip.py`` on the real sets as JSON lines (7.8 MB,
one core, 2026-12-03, best of 3):

==============  ==============  ================  ==================
level           size (of raw)   compress          decompress
==============  ==============  ================  ==================
zlib 1          0.377           52 MB/s           137 MB/s (zlib)
zlib 3          0.350           32 MB/s           148 MB/s (zlib)
isal 1          0.369           199 MB/s          342 MB/s (isal)
isal 3          0.351           172 MB/s          381 MB/s (isal)
==============  ==============  ================  ==================

So levels 1-3 use ISA-L (the size of zlib's at the same level, 4-5x faster); ISA-L has no
level above 3, so 4-9 stay zlib. Output bytes are a function of the input and the level alone
(``mtime=0``): a rerun writes the same files.

Reading needs nothing here: fsspec opens ``.gz`` through ``isal.igzip`` whenever python-isal is
installed (``fsspec/compression.py``), so datatrove's readers, the sources reader and the shard
reader all decompress through ISA-L (2.5x faster than zlib). A damaged ISA-L stream raises
:data:`BROKEN_STREAM_ERRORS`, which the sources reader counts as a ``corrupt_file``.
"""

from __future__ import annotations

import gzip

from isal import igzip, isal_zlib

ISAL_MAX_LEVEL = 3
BROKEN_STREAM_ERRORS: tuple[type[BaseException], ...] = (isal_zlib.error,)  # plus EOFError / zlib.error


class _ClosesRaw:
    """A gzip stream that also closes the file it writes into (``GzipFile(fileobj=...)`` does not)."""

    def __init__(self, raw, level: int):
        self._raw = raw
        super().__init__(fileobj=raw, mode="wb", compresslevel=level, mtime=0)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class _IsalWriter(_ClosesRaw, igzip.GzipFile):
    pass


class _ZlibWriter(_ClosesRaw, gzip.GzipFile):
    pass


def gzip_writer(raw, level: int) -> gzip.GzipFile:
    """A binary gzip stream at ``level`` (1-9) into the open file ``raw``, which it closes."""
    if not 1 <= level <= 9:
        raise ValueError(f"gzip level must be 1-9, got {level}")
    return (_IsalWriter if level <= ISAL_MAX_LEVEL else _ZlibWriter)(raw, level)

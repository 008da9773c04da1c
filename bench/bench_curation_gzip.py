"""gzip for curation's files: zlib (Python's ``gzip``) vs ISA-L (``curation/gzip_io.py``), one core.

On the real sets of ``../shared/data`` as JSON lines (``curation.real_sets.real_documents``): at
each level, the compressed size over the raw size, and MB of raw text per CPU-second to
compress (through ``gzip_writer`` for ISA-L, ``gzip.compress`` for zlib) and to decompress
(``gzip.decompress`` for zlib's files, ``igzip.decompress`` for ISA-L's), best of ``--repeat``.
Every file is checked to decompress to the input with the standard ``gzip`` module.

    .venv/bin/python bench/bench_curation_gzip.py
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


class _KeptBuffer(io.BytesIO):
    def close(self) -> None:  # the gzip stream closes its file: keep the bytes readable
        pass


def isal_compress(raw: bytes, level: int) -> bytes:
    """``raw`` through the pipeline's writer (``gzip_writer``) into memory."""
    from curation.gzip_io import gzip_writer

    buffer = _KeptBuffer()
    stream = gzip_writer(buffer, level)
    stream.write(raw)
    stream.close()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_gzip.json")
    args = parser.parse_args()
    from isal import igzip

    from bench.curation_real_corpus import require_real_sets
    from curation.real_sets import real_documents

    require_real_sets(args.data)
    docs = [d for one_set in real_documents(args.data).values() for d in one_set]
    raw = "".join(json.dumps(d) + "\n" for d in docs).encode()
    mb = len(raw) / 1e6
    rows = []
    for level in (1, 3):
        for codec, compress, decompress in (
            ("zlib", lambda lv=level: gzip.compress(raw, compresslevel=lv, mtime=0), gzip.decompress),
            ("isal", lambda lv=level: isal_compress(raw, lv), igzip.decompress),
        ):
            c_s, packed = _best(compress, args.repeat)
            assert gzip.decompress(packed) == raw
            d_s, _ = _best(lambda p=packed, f=decompress: f(p), args.repeat)
            rows.append(
                {
                    "codec": codec,
                    "level": level,
                    "size_of_raw": len(packed) / len(raw),
                    "compress_mb_per_cpu_s": mb / c_s,
                    "decompress_mb_per_cpu_s": mb / d_s,
                }
            )
    print(f"{len(docs):,} real documents as JSON lines, {mb:.1f} MB, best of {args.repeat}\n")
    print(f"{'codec':<6} {'level':>5} {'size of raw':>12} {'compress MB/s':>14} {'decompress MB/s':>16}")
    for r in rows:
        print(
            f"{r['codec']:<6} {r['level']:>5} {r['size_of_raw']:12.3f} {r['compress_mb_per_cpu_s']:14.1f}"
            f" {r['decompress_mb_per_cpu_s']:16.1f}"
        )
    for level in (1, 3):
        z, i = (next(r for r in rows if r["codec"] == c and r["level"] == level) for c in ("zlib", "isal"))
        print(
            f"level {level}: ISA-L compresses {i['compress_mb_per_cpu_s'] / z['compress_mb_per_cpu_s']:.1f}x faster,"
            f" decompresses {i['decompress_mb_per_cpu_s'] / z['decompress_mb_per_cpu_s']:.1f}x faster,"
            f" size {i['size_of_raw'] / z['size_of_raw']:.3f}x zlib's"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "mb": mb, "rows": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()

"""Curation on real data: what the defaults keep, drop and change on each set in shared/data.

For each real set (WikiText articles, Shakespeare paragraphs, GSM8K question+answer, HumanEval
prompt+solution, Flask files, the Common Crawl sample with planted junk) it runs

- **before**: the defaults midtrain shipped until December 2026 (web-crawl filters on every
  non-code source, math with relaxed Gopher/C4 options, C4 rewriting the lines it keeps), and
- **now**: the config a user writes first (name, path, domain; ``kind: web`` for the crawl),

in one process, side by side, and prints per set: documents in, dropped (share and top reasons),
documents whose text changed, GSM8K documents that lost their ``#### N`` answer line, and on the
web sample the recall of the planted junk and the collateral on the real pages.

    python bench/bench_curation_real.py [--data ../shared/data] [--out /tmp/bench_real]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

from curation import CurationConfig, run_curation
from curation.filters.profiles import stock_options
from curation.real_sets import REAL_SETS, find_shared_data, write_real_sources


def legacy_config(sources: list[dict]) -> dict:
    """Until December 2026: web filters on every non-code source, C4 edits, math relaxed."""
    web = {n: stock_options(n) for n in ("gopher_quality", "gopher_repetition", "c4", "fineweb")}
    web["c4"].update(filter_curly_bracket=False, allow_edits=True)
    math = json.loads(json.dumps(web))
    math["gopher_quality"]["max_non_alpha_words_ratio"] = None
    math["c4"]["min_num_sentences"] = 2
    srcs = []
    for s in sources:
        kind = {"code": "code", "math": "math"}.get(s["domain"], "web")
        srcs.append({**s, "kind": kind})
    return {
        "sources": srcs,
        "filters": {"profiles": {"web": web, "math": math, "code": {"code_quality": None}}},
    }


def now_config(sources: list[dict]) -> dict:
    return {"sources": [{**s, **({"kind": "web"} if s["name"] == "web" else {})} for s in sources]}


def _docs(folder: Path) -> dict[str, str]:
    out = {}
    for shard in folder.glob("*/*.jsonl.gz"):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                out[r["id"]] = r["text"]
    return out


def measure(config: dict, out_dir: Path, inputs: dict[str, dict[str, str]]) -> dict:
    common = {"executor": {"tasks": 1, "workers": 1}, "heldout": {"fraction": 0.01, "max_docs": 100}}
    cfg = CurationConfig.model_validate({**config, **common})
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_curation(cfg, out_dir)
    wall = time.perf_counter() - start
    alive = {**_docs(out_dir / "curated"), **_docs(out_dir / "heldout")}
    rows = {}
    for name, docs in inputs.items():
        by = result.funnel["by_source"][name]
        reasons: dict[str, int] = {}
        for step, rs in by["reasons"].items():
            if step in ("dedup", "heldout"):
                continue
            for r, n in rs.items():
                reasons[f"{step}:{r}"] = reasons.get(f"{step}:{r}", 0) + n
        filtered = sum(v for k, v in by.items() if k.startswith("dropped_") and k != "dropped_dedup")
        kept = [i for i in docs if i in alive]
        row = {
            "docs": len(docs),
            "dropped_by_filters": filtered,
            "dropped_dedup": by.get("dropped_dedup", 0),
            "modified": sum(1 for i in kept if alive[i] != docs[i]),
            "top_reasons": sorted(reasons.items(), key=lambda kv: -kv[1])[:3],
        }
        if name == "gsm8k":
            row["answer_line_lost"] = sum(1 for i in kept if "####" in docs[i] and "####" not in alive[i])
        if name == "web":
            junk = [i for i in docs if i.startswith("junk-")]
            real = [i for i in docs if not i.startswith("junk-")]
            row["junk_recall"] = sum(i not in alive for i in junk) / len(junk)
            row["real_pages_dropped"] = sum(i not in alive for i in real)
            row["real_pages"] = len(real)
        rows[name] = row
    return {"wall_s": wall, "rows": rows, "warnings": [str(w.message) for w in caught]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=find_shared_data())
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.data is None:
        raise SystemExit("no shared/data folder: pass --data or set MIDTRAIN_SHARED_DATA")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_real_"))
    paths = write_real_sources(args.data, out / "src")
    inputs = {}
    for name, path in paths.items():
        with open(path) as f:
            inputs[name] = {r["id"]: r["text"] for r in map(json.loads, f)}
    sources = [{"name": n, "path": str(p), "domain": REAL_SETS[n]} for n, p in paths.items()]
    before = measure(legacy_config(sources), out / "before", inputs)
    now = measure(now_config(sources), out / "now", inputs)
    print(f"# curation on real data ({platform.node()}, {time.strftime('%Y-%m-%d')})")
    print(f"wall: before {before['wall_s']:.1f} s, now {now['wall_s']:.1f} s (1 task, 1 worker)\n")
    print(
        "| set | docs | dropped by filters, before -> now | text changed, before -> now | top reasons before | now |"
    )
    print("|---|---|---|---|---|---|")
    for name in inputs:
        b, n = before["rows"][name], now["rows"][name]
        d = b["docs"]
        print(
            f"| {name} | {d} | {b['dropped_by_filters']} ({b['dropped_by_filters'] / d:.1%}) -> "
            f"{n['dropped_by_filters']} ({n['dropped_by_filters'] / d:.1%}) | {b['modified']} -> {n['modified']} | "
            f"{', '.join(f'{k}={v}' for k, v in b['top_reasons'])} | "
            f"{', '.join(f'{k}={v}' for k, v in n['top_reasons']) or '-'} |"
        )
    g_b, g_n = before["rows"]["gsm8k"], now["rows"]["gsm8k"]
    print(
        f"\nGSM8K documents that lost their '#### N' answer line: before {g_b['answer_line_lost']}, now {g_n['answer_line_lost']}"
    )
    w_b, w_n = before["rows"]["web"], now["rows"]["web"]
    print(
        f"web sample + planted junk: junk recall before {w_b['junk_recall']:.0%}, now {w_n['junk_recall']:.0%}; "
        f"real pages dropped before {w_b['real_pages_dropped']}/{w_b['real_pages']}, "
        f"now {w_n['real_pages_dropped']}/{w_n['real_pages']}"
    )
    print(f"\nguard warnings now ({len(now['warnings'])}):")
    for w in now["warnings"]:
        print(f"  {w}")
    print(f"guard warnings with the old defaults ({len(before['warnings'])}), first 3:")
    for w in before["warnings"][:3]:
        print(f"  {w}")


if __name__ == "__main__":
    main()

"""The curation funnel: per step and per source, documents in, kept, dropped (by reason), modified.

``build_funnel`` reads the datatrove stats the filter and write stages left in the work folder.
Steps count ``dropped/<source>`` and, through ``RemovedWriter`` (the exclusion writer every
dropping step gets), ``dropped/<source>/<reason>``; editing filters count ``modified/<source>``
and ``chars_removed/<source>``. The result (``reports/funnel.json``)::

    {"steps": [{"step", "input", "kept", "dropped", "reasons", "modified", "chars_removed"}, ...],
     "by_source": {source: {"input", "rejected", "after_read", "dropped_<step>", "heldout",
                            "curated", "reasons": {step: {reason: n}}, "modified": {step: n},
                            "chars_removed": {step: n}}}}

The held-out slice is not a drop: its step row has ``dropped == 0`` and ``heldout == n``.
``funnel_table`` prints it per source; ``plot_funnel`` draws one panel per source.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.pipeline.writers import JsonlWriter

from curation.stats.batched import BatchedStats
from curation.stats.merge import load_stage_stats

STAGE_ORDER = ("filter", "write")
_STEP_KEYS = {
    "Gopher Quality": "gopher_quality",
    "Gopher Repetition": "gopher_repetition",
    "C4 Quality": "c4",
    "FineWeb Quality": "fineweb",
    "Code Quality": "code_quality",
    "N-gram decont": "decontamination",
    "Dedup filter": "dedup",
    "Quality scorer": "quality_classifier",
}
KEPT_COLOR, DROPPED_COLOR, NOT_RUN_COLOR = "#4c72b0", "#dd8452", "#c7c7c7"
_FILTER_STEPS = ("gopher_quality", "gopher_repetition", "c4", "fineweb", "code_quality")


class RemovedWriter(BatchedStats, JsonlWriter):
    """A filter's exclusion writer that also counts each drop as ``dropped/<source>/<reason>``.

    datatrove's ``BaseFilter`` puts the reason in ``metadata['filter_reason']`` before writing, so
    this one class gives every dropping step per-source reasons without touching the step.
    """

    def __init__(self, output_folder: str, output_filename: str, owner=None):
        super().__init__(output_folder, output_filename=output_filename)
        self.owner = owner

    @property
    def owner(self):
        return self._owner.step if self._owner is not None else None

    @owner.setter
    def owner(self, step) -> None:
        # held through a plain object: datatrove's executor JSON dump would loop on step <-> writer
        self._owner = _OwnerRef(step) if step is not None else None

    def write(self, document, rank: int = 0, **kwargs):
        if self.owner is not None:
            source = document.metadata.get("source")
            reason = document.metadata.get("filter_reason") or "unspecified"
            self.owner.stat_update(f"dropped/{source}/{reason}")
        return super().write(document, rank, **kwargs)


class _OwnerRef:
    def __init__(self, step):
        self.step = step

    def __str__(self) -> str:
        return f"<owner {type(self.step).__name__}>"


def step_key(name: str) -> str | None:
    for label, key in _STEP_KEYS.items():
        if label in name:
            return key
    return None  # a step that drops nothing (tagger, writer, signatures)


def _total(value) -> int:
    """A counter's total: a MetricStats after merging, a plain number or dict when read from one file."""
    if isinstance(value, dict):
        return int(value.get("total", 0))
    return int(getattr(value, "total", value))


def _per_source(counters: dict, prefix: str) -> dict[str, dict[str, int]]:
    """``{prefix}/<source>/<rest>`` counters as ``{source: {rest: n}}``."""
    out: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        if key.startswith(prefix + "/") and key.count("/") >= 2:
            _, source, rest = key.split("/", 2)
            out.setdefault(source, {})[rest] = value
    return out


def build_funnel(
    work_dir: Path,
    sources: list[str],
    profiles: dict[str, str] | None = None,
    filters_run: dict[str, list[str]] | None = None,
) -> dict:
    """Per step: input, kept, dropped, reasons, edits; per source: the same, step by step.

    ``profiles`` (source -> kind) and ``filters_run`` (source -> the heuristic filters that judge
    it) are recorded per source, so a reader (and the plot) can tell "kept" from "not judged".
    """
    steps: list[dict] = []
    by_source = {
        s: {
            "profile": (profiles or {}).get(s),
            "filters": (filters_run or {}).get(s),
            "reasons": {},
            "modified": {},
            "chars_removed": {},
        }
        for s in sources
    }
    for stage in STAGE_ORDER:
        stats = load_stage_stats(Path(work_dir) / "logs" / stage)
        if stats is None:
            continue
        for step in stats.stats:
            counters = {k: _total(v) for k, v in step.stats.items()}
            if "Sources" in step.name:
                _read_row(counters, steps, by_source)
            elif "Held-out" in step.name:
                held = counters.get("heldout", 0)
                kept = counters.get("forwarded", 0)
                steps.append(
                    {
                        "step": "heldout",
                        "input": held + kept,
                        "kept": kept,
                        "dropped": 0,
                        "heldout": held,
                        "reasons": {},
                    }
                )
                for s in sources:
                    by_source[s]["heldout"] = counters.get(f"heldout/{s}", 0)
            elif (name := step_key(step.name)) is not None and ("dropped" in counters or "total" in counters):
                _filter_row(name, counters, steps, by_source)
    for row in by_source.values():  # a source no step dropped from still has every column
        for entry in steps:
            if entry["step"] not in ("read", "heldout"):
                row.setdefault(f"dropped_{entry['step']}", 0)
        row.setdefault("heldout", 0)
    return {"steps": steps, "by_source": by_source}


def _read_row(counters: dict, steps: list, by_source: dict) -> None:
    reasons = {k.removeprefix("rejected_"): v for k, v in counters.items() if k.startswith("rejected_")}
    steps.append(
        {
            "step": "read",
            "input": counters.get("documents", 0) + counters.get("rejected", 0),
            "kept": counters.get("documents", 0),
            "dropped": counters.get("rejected", 0),
            "reasons": reasons,
        }
    )
    per_reason = _per_source(counters, "rejected")
    for s, row in by_source.items():
        ok, bad = counters.get(f"read/{s}", 0), counters.get(f"rejected/{s}", 0)
        row.update({"input": ok + bad, "rejected": bad, "after_read": ok})
        if per_reason.get(s):
            row["reasons"]["read"] = per_reason[s]


def _filter_row(name: str, counters: dict, steps: list, by_source: dict) -> None:
    reasons = {k.removeprefix("dropped_"): v for k, v in counters.items() if k.startswith("dropped_")}
    modified = sum(v for k, v in counters.items() if k.startswith("modified/"))
    chars = sum(v for k, v in counters.items() if k.startswith("chars_removed/"))
    entry = {
        "step": name,
        "input": counters.get("total", 0),
        "kept": counters.get("forwarded", 0),
        "dropped": counters.get("dropped", 0),
        "reasons": reasons,
        "modified": modified,
        "chars_removed": chars,
    }
    if steps and steps[-1]["step"] == name:  # instances of one filter (one per option set): one row
        previous = steps[-1]
        previous["kept"] = previous["kept"] - entry["input"] + entry["kept"]
        for key in ("dropped", "modified", "chars_removed"):
            previous[key] += entry[key]
        for k, v in reasons.items():
            previous["reasons"][k] = previous["reasons"].get(k, 0) + v
    else:
        steps.append(entry)
    per_reason = _per_source(counters, "dropped")
    for s, row in by_source.items():
        key = f"dropped_{name}"
        row[key] = row.get(key, 0) + counters.get(f"dropped/{s}", 0)
        for reason, n in per_reason.get(s, {}).items():
            bucket = row["reasons"].setdefault(name, {})
            bucket[reason] = bucket.get(reason, 0) + n
        if counters.get(f"modified/{s}"):
            row["modified"][name] = row["modified"].get(name, 0) + counters[f"modified/{s}"]
            row["chars_removed"][name] = row["chars_removed"].get(name, 0) + counters.get(
                f"chars_removed/{s}", 0
            )


def source_steps(funnel: dict, source: str) -> list[dict]:
    """One source's path through the steps: ``[{step, input, dropped, reasons}]`` in run order."""
    row = funnel["by_source"][source]
    out = [
        {
            "step": "read",
            "input": row.get("input", 0),
            "dropped": row.get("rejected", 0),
            "reasons": row["reasons"].get("read", {}),
        }
    ]
    alive = row.get("after_read", 0)
    for entry in funnel["steps"]:
        name = entry["step"]
        if name in ("read", "heldout"):
            continue
        dropped = row.get(f"dropped_{name}", 0)
        out.append(
            {
                "step": name,
                "input": alive,
                "dropped": dropped,
                "reasons": row["reasons"].get(name, {}),
                "modified": row["modified"].get(name, 0),
            }
        )
        alive -= dropped
    return out


def funnel_table(funnel: dict) -> str:
    """The all-sources funnel, then one block per source (with its profile and top reasons)."""
    lines = [f"{'step':<20}{'input':>10}{'kept':>10}{'dropped':>10}  reasons"]
    for s in funnel["steps"]:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s["reasons"].items(), key=lambda kv: -kv[1])[:4])
        if s["step"] == "heldout":
            reasons = f"held out {s['heldout']} (not a drop)"
        elif s.get("modified"):
            reasons = f"{reasons}  modified {s['modified']} ({s['chars_removed']} chars removed)".strip()
        lines.append(f"{s['step']:<20}{s['input']:>10}{s['kept']:>10}{s['dropped']:>10}  {reasons}")
    lines += [
        "",
        f"{'source':<16}{'profile':<12}{'step':<20}{'input':>8}{'dropped':>9}{'share':>7}  top reasons",
    ]
    for source, row in funnel["by_source"].items():
        for k, st in enumerate(source_steps(funnel, source)):
            if k and not st["dropped"] and not st.get("modified"):
                continue
            share = st["dropped"] / st["input"] if st["input"] else 0.0
            reasons = ", ".join(
                f"{r}={n}" for r, n in sorted(st["reasons"].items(), key=lambda kv: -kv[1])[:3]
            )
            if st.get("modified"):
                reasons += f" modified={st['modified']}"
            lines.append(
                f"{source if k == 0 else '':<16}{(row.get('profile') or '-') if k == 0 else '':<12}"
                f"{st['step']:<20}{st['input']:>8}{st['dropped']:>9}{share:>7.0%}  {reasons}"
            )
        lines.append(
            f"{'':<28}{'-> curated':<20}{row.get('curated', 0):>8}   held out {row.get('heldout', 0)}"
        )
    return "\n".join(lines) + "\n"


def examples_text(examples: list[dict], width: int = 110) -> str:
    """One removed document per (source, step, reason), one line each (``removed_examples``)."""
    if not examples:
        return ""
    lines = ["", "examples of removed documents (all of them: removed/<source>/<step>/):"]
    for e in examples:
        text = " ".join(e["excerpt"].split())[:width]
        lines.append(f"  {e['source']:<14} {e['step']:<18} {e['reason']:<28} {text}")
    return "\n".join(lines) + "\n"


def plot_funnel(funnel: dict, path: Path) -> Path:
    """One panel per source: documents alive before each step, the dropped part in orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(funnel["by_source"])
    names = ["read"] + [e["step"] for e in funnel["steps"] if e["step"] not in ("read", "heldout")]
    ncols = min(3, max(1, len(sources)))
    nrows = -(-len(sources) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 0.32 * len(names) * nrows + 1.2 * nrows + 0.6), squeeze=False
    )
    for ax, source in zip(axes.flat, sources, strict=False):
        steps = {s["step"]: s for s in source_steps(funnel, source)}
        kept = [steps[n]["input"] - steps[n]["dropped"] if n in steps else 0 for n in names]
        dropped = [steps[n]["dropped"] if n in steps else 0 for n in names]
        y = list(range(len(names)))[::-1]
        row = funnel["by_source"][source]
        judged = row.get("filters")
        skipped = [judged is not None and n in _FILTER_STEPS and n not in judged for n in names]
        colors = [NOT_RUN_COLOR if skip else KEPT_COLOR for skip in skipped]
        ax.barh(y, kept, color=colors, label="kept")
        ax.barh(y, dropped, left=kept, color=DROPPED_COLOR, label="dropped")
        total = max(1, row.get("input", 0))
        ax.set_yticks(y, names, fontsize=8)
        ax.set_xlim(0, total * 1.02)
        curated = row.get("curated", 0) + row.get("heldout", 0)
        lost = 1 - curated / total
        ax.set_title(
            f"{source} ({row.get('profile') or '-'}): {lost:.0%} dropped",
            fontsize=9,
            color="#c44e52" if lost > 0.5 else "black",
        )
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(sources) :]:
        ax.axis("off")
    from matplotlib.patches import Patch

    legend = [Patch(color=KEPT_COLOR, label="kept"), Patch(color=DROPPED_COLOR, label="dropped")]
    legend.append(Patch(color=NOT_RUN_COLOR, label="passed unjudged (not in the source's profile)"))
    fig.legend(handles=legend, loc="upper right", fontsize=8, ncols=3)
    fig.suptitle("curation funnel per source (documents entering each step)", fontsize=10, x=0.02, ha="left")
    fig.supxlabel("documents", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

"""PNG plots for the report: loss per domain, gains vs retention, long-context accuracy grids."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from evaluation.palette import domain_color


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def plot_domain_losses(frame: pl.DataFrame, path: Path) -> Path | None:
    """Grouped bars: one group per checkpoint (x), one bar per domain, coloured by domain."""
    losses = frame.filter(
        pl.col("task").str.starts_with("loss/")
        & (pl.col("metric") == "loss")
        & (pl.col("task") != "loss/all")
    )
    if losses.is_empty():
        return None
    plt = _pyplot()
    domains = list(dict.fromkeys(t.removeprefix("loss/") for t in losses["task"]))
    checkpoints = list(dict.fromkeys(losses["checkpoint"]))
    width = 0.8 / len(domains)
    fig, ax = plt.subplots(figsize=(min(14, max(5.5, 0.45 * len(domains) * len(checkpoints) + 2.5)), 3.8))
    for i, domain in enumerate(domains):
        part = {
            r["checkpoint"]: r["value"]
            for r in losses.filter(pl.col("task") == f"loss/{domain}").iter_rows(named=True)
        }
        xs = [j + (i - (len(domains) - 1) / 2) * width for j in range(len(checkpoints))]
        ax.bar(
            xs,
            [part.get(c, float("nan")) for c in checkpoints],
            width=width,
            label=domain,
            color=domain_color(domain),
        )
    ax.set_xticks(
        range(len(checkpoints)), checkpoints, rotation=20 if len(checkpoints) > 4 else 0, ha="right"
    )
    ax.set_ylabel("held-out loss (nats/token, lower is better)")
    ax.set_title("Held-out loss per domain")
    ax.legend(fontsize=8, title="domain", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_gains_retention(summary: pl.DataFrame, threshold: float, path: Path) -> Path | None:
    """Each checkpoint as a point; both axes "+ = better": retention gain (x) vs target gain (y).

    x is ``-(loss change)`` on the retention basis (reference sets if measured, else general
    domains), so forgetting is to the left of ``-threshold``; y is the mean target-domain gain.
    """
    from evaluation.retention import retention_change

    rows = [r for r in summary.iter_rows(named=True) if r["target_gain"] is not None]
    rows = [r for r in rows if retention_change(r) is not None]
    if not rows:
        return None
    plt = _pyplot()
    basis = rows[0]["retention_basis"]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    xs = [-retention_change(r) for r in rows]
    ys = [r["target_gain"] for r in rows]
    for r, x, y in zip(rows, xs, ys, strict=True):
        ax.scatter(x, y, color="tab:red" if r["forgetting"] else "tab:blue", s=40, zorder=3)
    ax.axvline(
        -threshold, color="tab:red", linestyle="--", linewidth=1, label=f"forgetting: loss up > {threshold:g}"
    )
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.axhline(0, color="grey", linewidth=0.5)
    pad_x = 0.25 * (max(xs + [0.0]) - min(xs + [-threshold]) or 0.1)
    pad_y = 0.25 * (max(ys + [0.0]) - min(ys + [0.0]) or 0.1)
    ax.set_xlim(min(xs + [-threshold]) - pad_x, max(xs + [0.0]) + pad_x)
    ax.set_ylim(min(ys + [0.0]) - pad_y, max(ys + [0.0]) + pad_y)
    what = "reference sets (original distribution)" if basis == "reference" else "the anneal's general data"
    ax.set_xlabel(f"retention: loss drop on {what}\n(nats/token, + = better, left of red = forgetting)")
    ax.set_ylabel("target gain: loss drop on target domains\n(nats/token, + = better)")
    ax.set_title("Gains vs retention (better is up and right)")
    place_labels(ax, xs, ys, [r["checkpoint"] for r in rows])
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def place_labels(ax, xs: list[float], ys: list[float], labels: list[str]) -> list:
    """Annotate points so that no two labels (nor a label and a point) overlap, greedily.

    Each label tries offsets around its point, nearest first, and takes the first whose box is free,
    inside the axes and nearer its own point than any other (so it cannot be read as another
    point's label); a leader line joins every label to its point.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(list(zip(xs, ys, strict=True)))
    taken = [(px - 4, py - 4, px + 4, py + 4) for px, py in points]
    box = ax.get_window_extent(renderer)
    offsets = [(dx * r, dy * r) for r in (8, 18, 30, 44, 60) for dx, dy in _DIRECTIONS]
    texts = []
    for index, (x, y, label) in enumerate(zip(xs, ys, labels, strict=True)):
        text = ax.annotate(
            label,
            (x, y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
        chosen = None
        for strict in (True, False):  # first: nearest its own point too; then: just free
            for dx, dy in offsets:
                rect = _try(text, (dx, dy), renderer)
                inside = box.x0 <= rect[0] and rect[2] <= box.x1 and box.y0 <= rect[1] and rect[3] <= box.y1
                own = _distance(rect, points[index])
                nearest = all(own <= _distance(rect, p) for k, p in enumerate(points) if k != index)
                if inside and (nearest or not strict) and not any(_overlap(rect, o) for o in taken):
                    chosen = (dx, dy)
                    break
            if chosen:
                break
        dx, dy = chosen or offsets[0]
        rect = _try(text, (dx, dy), renderer)
        taken.append(rect)
        texts.append(text)
        ax.annotate(  # a leader line from every label to its point: no guessing in a cluster
            "",
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6, "shrinkA": 0, "shrinkB": 2},
        )
    return texts


_DIRECTIONS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]


def _try(text, offset: tuple[float, float], renderer) -> tuple[float, float, float, float]:
    """Move ``text`` to ``offset`` (points from its point); return its box in pixels, padded by 1."""
    dx, dy = offset
    text.set_position((dx, dy))
    text.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
    text.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
    ext = text.get_window_extent(renderer)
    return (ext.x0 - 1, ext.y0 - 1, ext.x1 + 1, ext.y1 + 1)


def _distance(rect, point) -> float:
    """Pixels from ``point`` to the nearest edge of ``rect`` (0 inside)."""
    dx = max(rect[0] - point[0], 0.0, point[0] - rect[2])
    dy = max(rect[1] - point[1], 0.0, point[1] - rect[3])
    return (dx * dx + dy * dy) ** 0.5


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def plot_longcontext(
    frame: pl.DataFrame, probe: str, path: Path, *, trained_length: int | None = None
) -> Path | None:
    """One heatmap per checkpoint: accuracy by depth (rows) and length (columns).

    Lengths beyond ``trained_length`` (the context the model was trained on) sit right of a dashed
    line; each cell shows its accuracy over ``n`` trials.
    """
    grid = longcontext_grid(frame, probe)
    if grid.is_empty():
        return None
    plt = _pyplot()
    checkpoints = list(dict.fromkeys(grid["checkpoint"]))
    lengths = sorted(set(grid["length"]))
    depths = sorted(set(grid["depth"]))
    fig, axes = plt.subplots(
        1,
        len(checkpoints),
        figsize=(1.2 + 0.9 * len(lengths) * len(checkpoints) + 1, 0.5 * len(depths) + 1.8),
        squeeze=False,
    )
    image = None
    for ax, name in zip(axes[0], checkpoints, strict=True):
        cells = {
            (r["depth"], r["length"]): r["value"]
            for r in grid.filter(pl.col("checkpoint") == name).iter_rows(named=True)
        }
        data = [[cells.get((d, n), float("nan")) for n in lengths] for d in depths]
        image = ax.imshow(data, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        trials = {
            (r["depth"], r["length"]): r["n"]
            for r in grid.filter(pl.col("checkpoint") == name).iter_rows(named=True)
        }
        for i, row in enumerate(data):
            for j, value in enumerate(row):
                n = trials.get((depths[i], lengths[j]))
                ax.text(
                    j, i, f"{value:.2f}" + (f"\nn={n}" if n else ""), ha="center", va="center", fontsize=6.5
                )
        if trained_length is not None:
            beyond = [j for j, n in enumerate(lengths) if n > trained_length]
            if beyond and beyond[0] > 0:
                ax.axvline(beyond[0] - 0.5, color="black", linestyle="--", linewidth=1.5)
            ticks = [f"{n}\n(beyond)" if n > trained_length else str(n) for n in lengths]
        else:
            ticks = [str(n) for n in lengths]
        ax.set_xticks(range(len(lengths)), ticks, fontsize=7)
        ax.set_yticks(range(len(depths)), [f"{d:g}" for d in depths], fontsize=7)
        ax.set_xlabel("length (tokens)")
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("depth")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="accuracy")
    trained = f"; trained context {trained_length} tokens (dashed line)" if trained_length else ""
    fig.suptitle(f"{probe} accuracy by length and key depth{trained}", fontsize=10, y=1.04)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def longcontext_grid(frame: pl.DataFrame, probe: str) -> pl.DataFrame:
    """Rows of ``accuracy@<length>@<depth>`` for ``probe`` as (checkpoint, length, depth, value, n)."""
    part = frame.filter((pl.col("task") == probe) & pl.col("metric").str.starts_with("accuracy@"))
    return part.with_columns(
        length=pl.col("metric").str.split("@").list.get(1).cast(pl.Int64),
        depth=pl.col("metric").str.split("@").list.get(2).cast(pl.Float64),
    ).select("checkpoint", "length", "depth", "value", "n")

"""Plots: one colour per domain everywhere, and labels that never overlap."""

from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

import evaluation.palette as eval_palette  # noqa: E402
import mixing.palette as mixing_palette  # noqa: E402
from evaluation.plots import place_labels, plot_gains_retention  # noqa: E402


def test_one_palette_in_evaluation_and_mixing():
    assert eval_palette.DOMAIN_COLORS == mixing_palette.DOMAIN_COLORS
    assert eval_palette.EXTRA == mixing_palette.EXTRA and eval_palette.REFERENCE == mixing_palette.REFERENCE
    for name in ["general", "math", "code", "reasoning", "long_context", "web_forum", "reference:pre"]:
        assert eval_palette.domain_color(name) == mixing_palette.domain_color(name)
    assert len(set(eval_palette.DOMAIN_COLORS.values())) == len(eval_palette.DOMAIN_COLORS)


def test_plan_plot_uses_the_palette_with_general_at_the_bottom(tmp_path):
    from mixing.plot import plot_plan

    plan = pl.DataFrame(
        {
            "phase": [0, 0, 0],
            "phase_name": ["anneal"] * 3,
            "domain": ["code", "general", "math"],
            "share": [0.25, 0.5, 0.25],
            "phase_start_token": [0] * 3,
            "phase_end_token": [1000] * 3,
        }
    )
    captured = {}
    original = plt.Axes.stackplot

    def spy(self, x, *ys, labels=(), colors=None, **kwargs):
        captured.update(labels=list(labels), colors=list(colors))
        return original(self, x, *ys, labels=labels, colors=colors, **kwargs)

    plt.Axes.stackplot = spy
    try:
        plot_plan(plan, tmp_path / "plan.png", min_general_share=0.5)
    finally:
        plt.Axes.stackplot = original
    assert captured["labels"][0] == "general"  # the floor line at 0.5 is the top of this band
    assert captured["colors"] == [eval_palette.domain_color(d) for d in captured["labels"]]


def test_labels_do_not_overlap_with_eight_clustered_points():
    rng = random.Random(0)
    xs = [rng.uniform(0, 0.02) for _ in range(8)]
    ys = [rng.uniform(0, 0.02) for _ in range(8)]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.scatter(xs, ys)
    ax.set_xlim(-0.1, 0.12)
    ax.set_ylim(-0.1, 0.12)
    texts = place_labels(ax, xs, ys, [f"run-{i}/seed{i}" for i in range(8)])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    plt.close(fig)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_gains_vs_retention_axes_share_one_sign_convention(tmp_path, monkeypatch):
    summary = pl.DataFrame(
        {
            "checkpoint": ["good", "forgets"],
            "target_gain": [0.5, 0.8],
            "general_change": [-0.1, 0.4],  # good's general loss fell; forgets' rose
            "reference_change": [None, None],
            "forgetting": [False, True],
            "retention_basis": ["general", "general"],
        },
        schema_overrides={"reference_change": pl.Float64},
    )
    points = []
    monkeypatch.setattr(plt.Axes, "scatter", lambda self, x, y, **k: points.append((x, y)))
    plot_gains_retention(summary, 0.05, tmp_path / "g.png")
    (good_x, good_y), (bad_x, bad_y) = points
    assert good_x > 0 > bad_x  # retention: + = better, like the target gain on y
    assert good_y > 0 and bad_y > 0

"""The run report's evaluation side: retention claim on reference sets, loss curves that match the run."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from recipes.claims import check_claims  # noqa: E402
from recipes.report_plots import plot_loss_curves  # noqa: E402


def _frame(losses):
    rows = [
        {"checkpoint": c, "task": f"loss/{d}", "metric": "loss", "value": v, "n": 100}
        for c, per in losses.items()
        for d, v in per.items()
    ]
    return pl.DataFrame(rows)


def _retention(reference_domains):
    losses = {
        # the general data is new to the base (its loss falls), the original distribution's rises
        "base": {"math": 5.0, "general": 6.0, "reference:pre": 3.0},
        "anneal": {"math": 4.0, "general": 5.5, "reference:pre": 3.5},
        "no-replay": {"math": 3.8, "general": 6.5, "reference:pre": 4.0},
    }
    claims = check_claims(
        _frame(losses),
        base="base",
        anneal="anneal",
        ablation="no-replay",
        decay=None,
        constant=None,
        target_domains=["math"],
        general_domains=["general"],
        reference_domains=reference_domains,
    )
    return claims[1]


def test_retention_claim_uses_reference_sets_and_says_so():
    on_reference = _retention(["reference:pre"])
    assert on_reference.holds is False and "reference-set (reference:pre" in on_reference.detail
    on_general = _retention([])
    assert on_general.holds is True and "no reference set given" in on_general.detail


def _metrics(steps, phase_change=None, domains=()):
    step = np.arange(1, steps + 1)
    data = {"step": step, "loss": 5 - step / steps, "lr": np.linspace(3e-3, 0, steps)}
    data["phase"] = np.where(step > (phase_change or steps + 1), 1, 0)
    for d in domains:
        data[f"loss/{d}"] = 5 - step / steps + 0.1
    return pl.DataFrame(data)


def _titles_and_lines(metrics, tmp_path, monkeypatch):
    seen = {"titles": [], "vlines": [], "lr_lines": 0}
    original_set = plt.Axes.set

    def spy_set(self, **kwargs):
        if "title" in kwargs:
            seen["titles"].append(kwargs["title"])
        return original_set(self, **kwargs)

    monkeypatch.setattr(plt.Axes, "set", spy_set)
    original_axvline = plt.Axes.axvline
    monkeypatch.setattr(
        plt.Axes, "axvline", lambda self, x=0, **k: seen["vlines"].append(x) or original_axvline(self, x, **k)
    )
    plot_loss_curves(metrics, tmp_path / "loss.png")
    return seen


def test_loss_curves_without_a_base_say_so_and_mark_phases(tmp_path, monkeypatch):
    metrics = {"anneal": _metrics(40, phase_change=30, domains=("math", "general"))}
    seen = _titles_and_lines(metrics, tmp_path, monkeypatch)
    assert "Training loss per run" in seen["titles"] and not any("base" in t for t in seen["titles"])
    assert 31 in seen["vlines"]  # the phase boundary (first step of phase 1)
    assert (tmp_path / "loss.png").stat().st_size > 10_000


def test_loss_curves_with_a_base_mark_the_anneal_start(tmp_path, monkeypatch):
    metrics = {"base": _metrics(50), "anneal/seed0": _metrics(20), "anneal/seed1": _metrics(20)}
    seen = _titles_and_lines(metrics, tmp_path, monkeypatch)
    assert "Training loss: base pre-training, then each anneal" in seen["titles"]
    assert 50 in seen["vlines"]  # the anneal starts where the base run ended


def test_one_lr_line_per_schedule_naming_its_runs():
    from recipes.report_plots import _plot_schedules

    constant = _metrics(20).with_columns(lr=pl.lit(3e-3))
    metrics = {
        "base": _metrics(50),
        "anneal/seed0": _metrics(20),
        "anneal/seed1": _metrics(20),  # seeds share the schedule
        "no-replay": _metrics(20),  # another run on the same schedule
        "constant": constant,
    }

    class Axes:
        labels: list = []

        def plot(self, x, y, **kwargs):
            self.labels.append(kwargs["label"])

    ax = Axes()
    _plot_schedules(ax, metrics, 50, {"base": "k", "anneal": "r", "no-replay": "g", "constant": "b"})
    assert ax.labels == ["base", "anneal, no-replay", "constant"]


def test_dry_run_shows_phase_budgets_in_tokens_not_fractions():
    from recipes.commands import _phase_tokens

    assert _phase_tokens({"total_tokens": 245760}, {"fraction": 0.25}) == 61440
    assert _phase_tokens({"total_tokens": 1000}, {"tokens": 300, "fraction": 0.5}) == 300
    assert _phase_tokens({}, {"fraction": 0.5}) == "-"  # no budget to take a fraction of

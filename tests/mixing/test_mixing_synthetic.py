"""max_synthetic_share: the synthetic sources (inventory column ``synthetic``) are capped per phase."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from mixing import MixConfig, PhaseConfig, plan_mixture
from mixing.planner import plan_mixture_report

SEQ = 128


def _inventory(synthetic_tokens: int = 2_000_000) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["web", "gsm", "web.rephrase_wiki", "gsm.solve"],
            "domain": ["general", "math", "general", "math"],
            "num_tokens": [4_000_000, 1_000_000, synthetic_tokens, synthetic_tokens],
            "synthetic": [False, False, True, True],
        }
    )


def _synthetic_share(plan: pl.DataFrame, phase: str) -> float:
    rows = plan.filter(pl.col("phase_name") == phase)
    syn = rows.filter(pl.col("source").is_in(["web.rephrase_wiki", "gsm.solve"]))["num_tokens"].sum()
    return syn / rows["num_tokens"].sum()


def test_natural_mixture_is_capped_in_auto_and_an_error_naming_the_phase_otherwise():
    phase = PhaseConfig(name="anneal", tokens=1_280_000)
    with pytest.raises(
        ValueError, match=r"phase 'anneal': max_synthetic_share 0.2: the synthetic sources get 0.4444"
    ):
        plan_mixture(_inventory(), MixConfig(seq_len=SEQ, phases=[phase], max_synthetic_share=0.2))
    report = plan_mixture_report(
        _inventory(), MixConfig(seq_len=SEQ, phases=[phase], max_synthetic_share=0.2, resolve="auto")
    )
    assert _synthetic_share(report.plan, "anneal") == pytest.approx(0.2, abs=2 / 10_000)
    assert any("synthetic share 0.4444 -> 0.2000 (max_synthetic_share)" in c for c in report.changes)
    syn_rows = report.plan.filter(pl.col("source").is_in(["web.rephrase_wiki", "gsm.solve"]))
    assert syn_rows["constraint"].to_list() == ["max_synthetic_share"] * 2
    # the non-synthetic sources keep their relative weights (4:1) while they take up the rest
    real = report.plan.filter(pl.col("source").is_in(["web", "gsm"])).sort("source")
    assert real["num_tokens"].to_list()[1] / real["num_tokens"].to_list()[0] == pytest.approx(4.0, rel=1e-3)


def test_explicit_targets_over_the_cap_fail_with_the_excess():
    phase = PhaseConfig(
        name="decay",
        tokens=1_280_000,
        source_targets={"web": 0.3, "gsm": 0.2, "web.rephrase_wiki": 0.3, "gsm.solve": 0.2},
    )
    with pytest.raises(
        ValueError, match=r"phase 'decay': max_synthetic_share 0.25: .* 0.5000 .*excess 320,000 tokens"
    ):
        plan_mixture(_inventory(), MixConfig(seq_len=SEQ, phases=[phase], max_synthetic_share=0.25))


def test_infeasible_cap_names_the_phase_and_the_shortfall_in_both_modes():
    # 1.28M tokens with at most 10 % synthetic needs 1.152M real tokens; the real sources allow 0.5M
    small = pl.DataFrame(
        {
            "source": ["web", "web.qa"],
            "domain": ["general", "general"],
            "num_tokens": [500_000, 5_000_000],
            "synthetic": [False, True],
        }
    )
    for resolve in ("error", "auto"):
        config = MixConfig(
            seq_len=SEQ,
            max_epochs=1.0,
            phases=[PhaseConfig(name="p1", tokens=1_280_000)],
            max_synthetic_share=0.1,
            resolve=resolve,
        )
        with pytest.raises(ValueError, match=r"phase 'p1': max_synthetic_share 0.1 leaves .*shortfall"):
            plan_mixture(small, config)


def test_per_phase_override_and_no_synthetic_column_means_no_cap():
    phases = [
        PhaseConfig(name="stable", tokens=640_000, max_synthetic_share=0.0),
        PhaseConfig(name="decay", tokens=640_000),
    ]
    plan = plan_mixture(
        _inventory(), MixConfig(seq_len=SEQ, phases=phases, max_synthetic_share=0.5, resolve="auto")
    )
    assert _synthetic_share(plan, "stable") == 0.0
    assert _synthetic_share(plan, "decay") == pytest.approx(4 / 9, abs=1e-3)  # natural share is under 0.5
    plain = _inventory().drop("synthetic")
    capped = plan_mixture(plain, MixConfig(seq_len=SEQ, phases=phases, max_synthetic_share=0.1))
    free = plan_mixture(
        plain,
        MixConfig(seq_len=SEQ, phases=[p.model_copy(update={"max_synthetic_share": None}) for p in phases]),
    )
    assert_frame_equal(capped, free)


def test_bad_synthetic_column_is_an_error():
    with pytest.raises(ValueError, match="column synthetic must be boolean"):
        plan_mixture(
            _inventory().with_columns(pl.col("synthetic").cast(pl.String)),
            MixConfig(seq_len=SEQ, phases=[PhaseConfig(name="p", tokens=12_800)]),
        )


@settings(max_examples=40, deadline=None)
@given(
    cap=st.floats(0.0, 1.0),
    syn_tokens=st.integers(100_000, 20_000_000),
    floor=st.sampled_from([0.0, 0.3]),
)
def test_auto_plan_never_exceeds_the_cap_beyond_rounding(cap, syn_tokens, floor):
    config = MixConfig(
        seq_len=SEQ,
        phases=[PhaseConfig(name="p", tokens=1_280_000)],
        max_synthetic_share=cap,
        min_general_share=floor,
        resolve="auto",
    )
    plan = plan_mixture(_inventory(syn_tokens), config)
    num_sequences = 1_280_000 // SEQ
    assert _synthetic_share(plan, "p") <= cap + 2 / num_sequences  # one sequence per synthetic source
    general = plan.filter(pl.col("domain") == "general")["num_tokens"].sum() / 1_280_000
    assert general >= floor - 1e-9
    assert plan["num_tokens"].sum() == 1_280_000

"""plan_mixture: phases, targets, floor, caps, resolve, ramps, curriculum, steps, presets."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mixing import PLAN_COLUMNS, MixConfig, PhaseConfig, plan_mixture, plan_mixture_report
from mixing.presets import DOLMINO_TOKENS, SMOLLM2_SHARES, olmo2_dolmino_50b, smollm2_stages


def _inventory():
    return pl.DataFrame(
        {
            "source": ["web", "wiki", "gsm", "proofs", "code"],
            "domain": ["general", "general", "math", "math", "code"],
            "num_tokens": [10_000_000, 2_000_000, 1_000_000, 500_000, 800_000],
            "mean_difficulty": [0.0, 0.5, 1.0, 2.0, 1.5],
            "mean_quality": [0.4, 0.9, 0.8, 0.7, 0.6],
        }
    )


def _config(**overrides):
    base = dict(
        total_tokens=8_000_000,
        seq_len=128,
        tokens_per_step=2048,
        min_general_share=0.5,
        phases=[
            PhaseConfig(name="stable", fraction=0.7),
            PhaseConfig(
                name="anneal", fraction=0.3, domain_targets={"general": 0.5, "math": 0.3, "code": 0.2}
            ),
        ],
    )
    base.update(overrides)
    return MixConfig(**base)


def _domain_shares(plan):
    return plan.group_by(["phase", "domain"]).agg(pl.col("share").sum()).sort(["phase", "domain"])


def test_plan_columns_shares_and_step_ranges():
    plan = plan_mixture(_inventory(), _config())
    assert list(plan.columns[: len(PLAN_COLUMNS)]) == list(PLAN_COLUMNS)
    sums = plan.group_by("phase", maintain_order=True).agg(pl.col("share").sum(), pl.col("num_tokens").sum())
    assert sums["share"].to_list() == pytest.approx([1.0, 1.0])
    anneal = _domain_shares(plan).filter(pl.col("phase") == 1)
    assert anneal["domain"].to_list() == ["code", "general", "math"]
    assert anneal["share"].to_list() == pytest.approx([0.2, 0.5, 0.3], abs=1e-3)
    phases = plan.group_by("phase").agg(pl.all().first()).sort("phase")
    assert phases["phase_start_step"].to_list() == [0, 2734]
    assert phases["phase_end_step"].to_list() == [2734, 3906]  # 8M tokens / 2048 per step, rounded
    assert phases["phase_start_token"][1] == phases["phase_end_token"][0]
    assert (plan["num_tokens"] == plan["num_sequences"] * 128).all()
    # phase 0 is natural (proportional to size): web gets 10 / 14.3 of it
    web0 = plan.filter((pl.col("phase") == 0) & (pl.col("source") == "web"))["share"][0]
    assert web0 == pytest.approx(10 / 14.3, abs=1e-4)
    # epochs are cumulative; effective tokens equal drawn tokens below one epoch
    web = plan.filter(pl.col("source") == "web").sort("phase")
    assert web["epochs"][1] == pytest.approx(web["num_tokens"].sum() / 10_000_000)
    assert web["effective_tokens"][1] == pytest.approx(web["num_tokens"].sum())


def test_same_input_same_plan_whatever_the_row_order():
    inventory = _inventory()
    first = plan_mixture(inventory, _config())
    second = plan_mixture(inventory.reverse(), _config())
    assert_frame_equal(first, second)


def test_source_targets_inside_domain_targets():
    phases = [
        PhaseConfig(
            name="p",
            tokens=1_280_000,
            domain_targets={"general": 0.6, "math": 0.4},
            source_targets={"proofs": 0.1},
        )
    ]
    plan = plan_mixture(_inventory(), _config(total_tokens=None, phases=phases))
    shares = dict(plan.select("source", "share").iter_rows())
    assert shares["proofs"] == pytest.approx(0.1, abs=1e-3)
    assert shares["gsm"] == pytest.approx(0.3, abs=1e-3)
    assert shares["code"] == 0.0
    assert shares["web"] / shares["wiki"] == pytest.approx(5.0, rel=1e-2)  # spread by size


def test_floor_violation_is_an_error_naming_the_constraint_and_shortfall():
    phases = [PhaseConfig(name="math_heavy", tokens=1_280_000, domain_targets={"general": 0.3, "math": 0.7})]
    with pytest.raises(ValueError, match=r"min_general_share 0.5.*shortfall 256,000 tokens"):
        plan_mixture(_inventory(), _config(total_tokens=None, phases=phases))


def test_auto_resolve_raises_the_floor_and_lists_changes():
    phases = [PhaseConfig(name="math_heavy", tokens=1_280_000, domain_targets={"general": 0.3, "math": 0.7})]
    report = plan_mixture_report(_inventory(), _config(total_tokens=None, phases=phases, resolve="auto"))
    general = report.plan.filter(pl.col("domain") == "general")["share"].sum()
    assert general == pytest.approx(0.5, abs=1e-9) and general >= 0.5
    assert any("min_general_share" in c for c in report.changes)
    assert report.plan["constraint"].drop_nulls().len() > 0


def test_epoch_cap_error_and_auto_resolve():
    # proofs has 500k tokens; 4 epochs = 2M, but the target asks for 0.5 x 6.4M = 3.2M.
    phases = [
        PhaseConfig(
            name="p",
            tokens=6_400_000,
            domain_targets={"general": 0.5, "math": 0.5},
            source_targets={"proofs": 0.5},
        )
    ]
    with pytest.raises(ValueError, match=r"'proofs'.*max_epochs.*shortfall 1,200,000 tokens"):
        plan_mixture(_inventory(), _config(total_tokens=None, phases=phases))
    with pytest.raises(ValueError, match="domain_targets.math is 0.5 but its only sources"):
        plan_mixture(
            _inventory(),
            _config(
                total_tokens=None,
                phases=[
                    PhaseConfig(
                        name="p",
                        tokens=6_400_000,
                        domain_targets={"general": 0.5, "math": 0.5},
                        source_targets={"proofs": 0.2, "gsm": 0.2},
                    )
                ],
            ),
        )
    report = plan_mixture_report(_inventory(), _config(total_tokens=None, phases=phases, resolve="auto"))
    proofs = report.plan.filter(pl.col("source") == "proofs")
    assert proofs["epochs"][0] <= 4.0 and proofs["constraint"][0] == "max_epochs"
    assert any("'proofs'" in c and "max_epochs" in c for c in report.changes)


def test_max_source_share_and_min_source_tokens():
    plan = plan_mixture(_inventory(), _config(max_source_share=0.4, resolve="auto"))
    assert plan["share"].max() <= 0.4 + 1e-12
    with pytest.raises(ValueError, match="min_source_tokens"):
        plan_mixture(_inventory(), _config(min_source_tokens=400_000))
    report = plan_mixture_report(_inventory(), _config(min_source_tokens=400_000, resolve="auto"))
    drawn = report.plan.filter(pl.col("num_tokens") > 0)
    assert drawn["num_tokens"].min() >= 400_000
    assert any("min_source_tokens" in c for c in report.changes)


def test_infeasible_capacity_errors_even_in_auto_mode():
    with pytest.raises(ValueError, match=r"phase 'stable': no feasible mixture.*shortfall"):
        plan_mixture(
            _inventory(),
            _config(total_tokens=80_000_000, resolve="auto", max_epochs=1.0, min_general_share=0.0),
        )
    with pytest.raises(ValueError, match=r"min_general_share 0.5 needs.*shortfall 16,000,256 tokens"):
        plan_mixture(_inventory(), _config(total_tokens=80_000_000, resolve="auto", max_epochs=1.0))


def test_ramp_moves_linearly_between_phase_mixtures():
    phases = [
        PhaseConfig(name="a", tokens=1_024_000, domain_targets={"general": 1.0}),
        PhaseConfig(
            name="b", tokens=1_024_000, domain_targets={"general": 0.5, "math": 0.5}, ramp_subphases=4
        ),
    ]
    plan = plan_mixture(_inventory(), _config(total_tokens=None, phases=phases))
    math = _domain_shares(plan).filter(pl.col("domain") == "math").sort("phase")["share"].to_list()
    assert math == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5], abs=2e-3)
    assert plan["phase_name"].unique(maintain_order=True).to_list() == [
        "a",
        "b:ramp1/4",
        "b:ramp2/4",
        "b:ramp3/4",
        "b:ramp4/4",
    ]


def test_curriculum_order_within_phase_and_phases_by_emphasis():
    plan = plan_mixture(_inventory(), _config())
    first = plan.filter(pl.col("phase") == 0).sort("order")
    assert first["source"].to_list() == ["web", "wiki", "gsm", "code", "proofs"]  # difficulty ascending
    from mixing.config import CurriculumConfig

    by_quality = plan_mixture(
        _inventory(), _config(curriculum=CurriculumConfig(within_phase="quality", descending=True))
    )
    assert by_quality.filter(pl.col("phase") == 0).sort("order")["source"][0] == "wiki"
    phases = [
        PhaseConfig(name="code", tokens=256_000, domain_targets={"general": 0.5, "code": 0.5}),
        PhaseConfig(name="math", tokens=256_000, domain_targets={"general": 0.5, "math": 0.5}),
        PhaseConfig(name="warm", tokens=256_000),
    ]
    emphasis = CurriculumConfig(order_phases_by_emphasis=True)
    plan = plan_mixture(_inventory(), _config(total_tokens=None, phases=phases, curriculum=emphasis))
    assert plan["phase_name"].unique(maintain_order=True).to_list() == ["warm", "math", "code"]


def test_presets_reproduce_published_shares():
    inventory, config = olmo2_dolmino_50b()
    plan = plan_mixture(inventory, config)
    total = sum(n for _, n in DOLMINO_TOKENS.values())
    for source, (_, tokens) in DOLMINO_TOKENS.items():
        row = plan.filter(pl.col("source") == source)
        assert row["share"][0] == pytest.approx(tokens / total, abs=1e-6)
        assert row["epochs"][0] == pytest.approx(1.0, abs=1e-6)
    assert plan.filter(pl.col("source") == "dclm")["share"][0] == pytest.approx(0.472, abs=1e-3)
    inventory, config = smollm2_stages()
    plan = plan_mixture(inventory, config)
    for phase, (name, shares) in enumerate(SMOLLM2_SHARES.items()):
        got = dict(plan.filter(pl.col("phase") == phase).select("source", "share").iter_rows())
        assert plan.filter(pl.col("phase") == phase)["phase_name"][0] == name
        assert {k: got[k] for k in shares} == pytest.approx(shares, abs=1e-6)

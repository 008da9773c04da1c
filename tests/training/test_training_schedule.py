"""LR schedules at known steps: WSD plateau/decay, decay shapes, warmup, alignment to the last phase."""

import math

import pytest

from training.config import SchedulerConfig
from training.trainer.schedules import build_schedule, decay_factor


def test_wsd_linear_decay_known_values():
    cfg = SchedulerConfig(kind="wsd", decay_fraction=0.2, decay_shape="linear", final_lr=0.0)
    s = build_schedule(cfg, max_steps=100, peak_lr=2e-4)
    assert s.decay_start == 80
    assert all(s.lr_at(k) == 2e-4 for k in range(1, 81))  # unchanged before the decay
    assert s.lr_at(90) == pytest.approx(1e-4)  # half-way through a linear decay
    assert s.lr_at(100) == 0.0  # zero at the end
    assert all(s.lr_at(k) > s.lr_at(k + 1) for k in range(80, 100))


@pytest.mark.parametrize("shape", ["linear", "cosine", "1-sqrt", "exponential"])
def test_decay_shapes_start_at_one_end_at_zero_and_fall(shape):
    values = [decay_factor(p / 20, shape) for p in range(21)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    expected_mid = {"linear": 0.5, "cosine": 0.5, "1-sqrt": 1 - math.sqrt(0.5)}
    if shape in expected_mid:
        assert decay_factor(0.5, shape) == pytest.approx(expected_mid[shape])


def test_warmup_rewarm_cosine_and_linear_to_final():
    cos = build_schedule(
        SchedulerConfig(kind="cosine", warmup_steps=10, final_lr=1e-5), max_steps=110, peak_lr=1e-3
    )
    assert cos.lr_at(5) == pytest.approx(5e-4) and cos.lr_at(10) == pytest.approx(1e-3)
    assert cos.lr_at(60) == pytest.approx((1e-3 + 1e-5) / 2) and cos.lr_at(110) == pytest.approx(1e-5)
    rewarm = build_schedule(
        SchedulerConfig(kind="linear", warmup_steps=4, warmup_start_lr=1e-4), max_steps=20, peak_lr=5e-4
    )
    assert rewarm.lr_at(0) == pytest.approx(1e-4) and rewarm.lr_at(2) == pytest.approx(3e-4)
    assert rewarm.lr_at(12) == pytest.approx(2.5e-4) and rewarm.lr_at(20) == 0.0
    const = build_schedule(SchedulerConfig(kind="constant"), max_steps=5, peak_lr=1e-3)
    assert {const.lr_at(k) for k in range(1, 6)} == {1e-3}


def test_wsd_decay_aligned_to_last_phase_and_errors():
    cfg = SchedulerConfig(kind="wsd", align_decay_to_last_phase=True, decay_shape="cosine")
    s = build_schedule(cfg, max_steps=50, peak_lr=1e-3, last_phase_start_step=30)
    assert s.lr_at(30) == 1e-3 and s.lr_at(31) < 1e-3 and s.lr_at(40) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="single phase"):
        build_schedule(cfg, max_steps=50, peak_lr=1e-3, last_phase_start_step=None)
    with pytest.raises(ValueError, match="warmup_steps"):
        build_schedule(SchedulerConfig(kind="cosine", warmup_steps=50), max_steps=50, peak_lr=1e-3)
    with pytest.raises(ValueError, match="decay_fraction"):
        SchedulerConfig(kind="wsd", decay_fraction=1.5)

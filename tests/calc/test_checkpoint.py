from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.calc.checkpoint import DEFAULT_GRACE_PERIOD_S, calculate
from kubernai.calc.precision import Precision
from kubernai.calc.train_memory import Optimizer
from kubernai.errors import InputError

LLAMA_8B = 8_030_000_000


def test_llama_8b_mixed_adam_worked_example():
    # calculators.md section 9: 14 x 8.03e9 = 112.4 GB; about 56 s at 2 GB/s, 11 s at 10 GB/s.
    slow = calculate(LLAMA_8B, bandwidth_gb_per_s=2)
    assert slow.weights_only_bytes == 2 * LLAMA_8B == 16_060_000_000
    assert slow.full_resume_bytes == 14 * LLAMA_8B == 112_420_000_000
    assert slow.full_resume_write_s == pytest.approx(56.21)
    assert slow.grace_period_s == DEFAULT_GRACE_PERIOD_S == 30
    assert not slow.fits
    assert slow.weights_only_fits  # 8.0 s
    assert slow.min_bandwidth_gb_per_s == pytest.approx(112.42 / 30)
    fast = calculate(LLAMA_8B, bandwidth_gb_per_s=10)
    assert fast.full_resume_write_s == pytest.approx(11.242)
    assert fast.fits


@pytest.mark.parametrize(
    ("precision", "optimizer", "weights", "resume"),
    [
        pytest.param(Precision.BF16_MIXED, Optimizer.ADAM, 2, 14, id="bf16-mixed-adam"),
        pytest.param(
            Precision.FP16_MIXED, Optimizer.ADAMW, 2, 14, id="fp16-mixed-adamw"
        ),
        pytest.param(Precision.FP32, Optimizer.ADAM, 4, 12, id="fp32-adam"),
        pytest.param(Precision.BF16_PURE, Optimizer.ADAM, 2, 6, id="bf16-pure-adam"),
        pytest.param(Precision.BF16_MIXED, Optimizer.SGD, 2, 6, id="mixed-sgd"),
        pytest.param(
            Precision.BF16_MIXED, Optimizer.SGD_MOMENTUM, 2, 10, id="mixed-sgd-momentum"
        ),
    ],
)
def test_bytes_per_parameter(precision, optimizer, weights, resume):
    r = calculate(1000, bandwidth_gb_per_s=1, precision=precision, optimizer=optimizer)
    assert (r.weights_bytes_per_param, r.resume_bytes_per_param) == (weights, resume)
    assert (r.weights_only_bytes, r.full_resume_bytes) == (
        weights * 1000,
        resume * 1000,
    )


def test_custom_grace_period():
    assert calculate(LLAMA_8B, bandwidth_gb_per_s=2, grace_period_s=120).fits
    zero = calculate(LLAMA_8B, bandwidth_gb_per_s=2, grace_period_s=0)
    assert not zero.fits
    assert zero.min_bandwidth_gb_per_s is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"bandwidth_gb_per_s": 0}, "bandwidth must be above 0", id="no-bandwidth"
        ),
        pytest.param(
            {"bandwidth_gb_per_s": 1, "grace_period_s": -1},
            "grace period",
            id="negative-grace",
        ),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message):
        calculate(LLAMA_8B, **kwargs)
    with pytest.raises(InputError, match="parameter count"):
        calculate(0, bandwidth_gb_per_s=1)


@given(
    params=st.integers(min_value=1, max_value=10**12),
    bandwidth=st.floats(min_value=0.01, max_value=1000),
)
def test_weights_never_exceed_the_full_checkpoint(params, bandwidth):
    r = calculate(params, bandwidth_gb_per_s=bandwidth)
    assert r.weights_only_bytes <= r.full_resume_bytes
    assert r.fits == (r.full_resume_write_s <= r.grace_period_s)
    if r.fits:
        assert r.weights_only_fits

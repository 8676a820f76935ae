from __future__ import annotations

import json
from importlib import resources

import pytest

from kubernai.calc.catalog import Gpu, find_gpu, gpus
from kubernai.calc.precision import (
    Precision,
    compute_capability,
    describe,
    find_format,
    number_formats,
    precision_bytes,
    supports,
)
from kubernai.errors import InputError

# calculators.md section 8 (torch.finfo on torch 2.13; subnormals by bit pattern 0x..01).
FINFO = [
    pytest.param(
        "fp32",
        3.4028234663852886e38,
        1.1754943508222875e-38,
        1.401298464324817e-45,
        1.1920928955078125e-07,
        True,
        id="fp32",
    ),
    pytest.param(
        "fp16",
        65504.0,
        6.103515625e-05,
        5.960464477539063e-08,
        0.0009765625,
        True,
        id="fp16",
    ),
    pytest.param(
        "bf16",
        3.3895313892515355e38,
        1.1754943508222875e-38,
        9.183549615799121e-41,
        0.0078125,
        True,
        id="bf16",
    ),
    pytest.param("fp8-e4m3", 448.0, 0.015625, 0.001953125, 0.125, False, id="e4m3fn"),
    pytest.param(
        "fp8-e5m2", 57344.0, 6.103515625e-05, 1.52587890625e-05, 0.25, True, id="e5m2"
    ),
    pytest.param(
        "fp8-e4m3fnuz", 240.0, 0.0078125, 0.0009765625, 0.125, False, id="e4m3fnuz"
    ),
    # torch.finfo says eps 0.125 here (c10's constant 0x34 = 2^-3); the gap above 1
    # with 2 mantissa bits is 2^-2, as ml_dtypes reports.
    pytest.param(
        "fp8-e5m2fnuz",
        57344.0,
        3.0517578125e-05,
        7.62939453125e-06,
        0.25,
        False,
        id="e5m2fnuz",
    ),
]


@pytest.mark.parametrize(
    ("name", "max_finite", "min_normal", "min_subnormal", "eps", "inf"), FINFO
)
def test_extremes_match_torch_finfo(
    name, max_finite, min_normal, min_subnormal, eps, inf
):
    facts = describe(find_format(name))
    assert facts.max_finite == max_finite
    assert facts.min_normal == min_normal
    assert facts.min_subnormal == min_subnormal
    assert facts.epsilon == eps
    assert facts.has_infinity is inf


def test_the_e5m2fnuz_epsilon_difference_is_documented():
    fmt = find_format("float8_e5m2fnuz")
    assert any("0.125" in note and "0.25" in note for note in fmt.notes)


@pytest.mark.parametrize(
    ("name", "max_exact", "min_exact"),
    [
        pytest.param("fp16", "(2 - 2^-10) x 2^15", "2^-24", id="fp16"),
        pytest.param("bf16", "(2 - 2^-7) x 2^127", "2^-133", id="bf16"),
        pytest.param("e4m3", "(2 - 2^-2) x 2^8", "2^-9", id="e4m3"),
        pytest.param("fp32", "(2 - 2^-23) x 2^127", "2^-149", id="fp32"),
    ],
)
def test_exact_forms(name, max_exact, min_exact):
    facts = describe(find_format(name))
    assert (facts.max_finite_exact, facts.min_subnormal_exact) == (max_exact, min_exact)


@pytest.mark.parametrize(
    ("alias", "format_id"),
    [
        ("bfloat16", "bf16"),
        ("torch.bfloat16", "bf16"),
        ("half", "fp16"),
        ("float", "fp32"),
        ("fp8", "fp8-e4m3"),
        ("E4M3", "fp8-e4m3"),
        ("float8_e4m3fn", "fp8-e4m3"),
        ("fp8_e5m2", "fp8-e5m2"),
        ("e4m3fnuz", "fp8-e4m3fnuz"),
        ("torch.float8_e5m2fnuz", "fp8-e5m2fnuz"),
    ],
)
def test_aliases(alias, format_id):
    assert find_format(alias).id == format_id


def test_unknown_format():
    with pytest.raises(
        InputError, match=r"unknown number format 'fp4' \(one of: fp32, bf16"
    ):
        find_format("fp4")


@pytest.mark.parametrize(
    ("gpu", "bf16", "fp8"),
    [
        ("T4", False, False),
        ("A10G", True, False),
        ("A100", True, False),
        ("L4", True, True),
        ("L40S", True, True),
        ("H100", True, True),
        ("H200", True, True),
        ("B200", True, True),
    ],
)
def test_support_per_gpu(gpu, bf16, fp8):
    g = find_gpu(gpu)
    assert isinstance(g, Gpu)
    assert supports(find_format("bf16"), g) is bf16
    assert supports(find_format("e4m3"), g) is fp8
    assert supports(find_format("e5m2"), g) is fp8
    assert supports(find_format("fp16"), g)
    assert supports(find_format("fp32"), g)
    assert not supports(find_format("e4m3fnuz"), g)
    assert not supports(find_format("e5m2fnuz"), g)


def test_catalog_fields_follow_the_compute_capability_rules():
    # BF16 from CC 8.0; FP8 tensor cores on 8.9, 9.0 and 10.x only.
    for gpu in {g.id: g for g in gpus().values()}.values():
        cc = compute_capability(gpu.compute_capability)
        assert gpu.bf16 is (cc >= (8, 0)), gpu.id
        assert gpu.fp8 is (cc in {(8, 9), (9, 0)} or cc[0] == 10), gpu.id


def test_supported_gpu_lists():
    facts = describe(find_format("bf16"))
    assert "T4" in facts.unsupported_gpus
    assert "A100-SXM4-80GB" in facts.supported_gpus
    assert describe(find_format("fp8-e4m3fnuz")).supported_gpus == ()
    assert "A100-SXM4-80GB" in describe(find_format("e4m3")).unsupported_gpus


def test_data_file_names_its_sources():
    data = json.loads(
        resources.files("kubernai")
        .joinpath("data/number_formats.json")
        .read_text("utf-8")
    )
    assert "OCP" in data["source"]
    assert "torch.finfo" in data["source"]
    assert [f.id for f in number_formats()] == [f["id"] for f in data["formats"]]
    for fmt in number_formats():
        for alias in fmt.aliases:
            assert find_format(alias).id == fmt.id, alias  # no alias is shared


def test_layout_identities():
    for fmt in number_formats():
        assert fmt.min_subnormal * 2**fmt.mantissa_bits == fmt.min_normal
        assert fmt.bits in (8, 16, 32)


@pytest.mark.parametrize(
    ("precision", "compute", "storage", "state", "master"),
    [
        (Precision.BF16_MIXED, 2, 4, 4, 4),
        (Precision.FP16_MIXED, 2, 4, 4, 4),
        (Precision.FP32, 4, 4, 4, 0),
        (Precision.BF16_PURE, 2, 2, 2, 0),
    ],
)
def test_precision_bytes(precision, compute, storage, state, master):
    b = precision_bytes(precision)
    assert (b.compute_bytes, b.storage_bytes, b.state_bytes, b.master_bytes) == (
        compute,
        storage,
        state,
        master,
    )

from __future__ import annotations

import pytest

from kubernai.model.zero_config import (
    CPU,
    NONE,
    NVME,
    OPTIMIZER,
    PARAM,
    read_zero_config,
    replacement_field,
)


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        pytest.param({}, 0, id="no-section-is-stage-0"),
        pytest.param({"zero_optimization": {}}, 0, id="no-stage-key"),
        pytest.param({"zero_optimization": {"stage": 3}}, 3, id="int"),
        pytest.param({"zero_optimization": {"stage": "2"}}, 2, id="string"),
        pytest.param({"zero_optimization": {"stage": " 3"}}, 3, id="string-space"),
        pytest.param({"zero_optimization": {"stage": 1.0}}, 1, id="integral-float"),
        pytest.param({"zero_optimization": {"stage": "3.0"}}, 3, id="float-string"),
        pytest.param({"zero_optimization": True}, 1, id="deprecated-true"),
        pytest.param({"zero_optimization": False}, 0, id="deprecated-false"),
        pytest.param({"zero_optimization": {"stage": "auto"}}, None, id="auto"),
        pytest.param({"zero_optimization": {"stage": 3.5}}, None, id="fraction"),
        pytest.param({"zero_optimization": {"stage": 4}}, None, id="out-of-range"),
        pytest.param({"zero_optimization": {"stage": True}}, None, id="bool"),
        pytest.param({"zero_optimization": {"stage": None}}, None, id="null"),
        pytest.param({"zero_optimization": {"stage": [3]}}, None, id="list"),
        pytest.param({"zero_optimization": {"stage": "$S"}}, None, id="placeholder"),
    ],
)
def test_stage(data, stage):
    zero = read_zero_config(data)
    assert zero is not None
    assert zero.stage == stage


@pytest.mark.parametrize("section", [None, [], "stage 3", 3])
def test_refused_sections_give_none(section):
    assert read_zero_config({"zero_optimization": section}) is None


def test_offload_sections():
    zero = read_zero_config(
        {
            "zero_optimization": {
                "stage": 3,
                "offload_optimizer": {
                    "device": "nvme",
                    "nvme_path": "/nvme",
                    "pin_memory": False,
                    "ratio": "0.4",
                },
                "offload_param": {"device": "cpu"},
            }
        }
    )
    assert zero is not None
    optimizer, param = zero.optimizer, zero.param
    assert optimizer is not None
    assert param is not None
    assert (optimizer.key, optimizer.device, optimizer.nvme_path) == (
        OPTIMIZER,
        NVME,
        "/nvme",
    )
    assert optimizer.pin_memory_set
    assert optimizer.ratio == pytest.approx(0.4)
    assert optimizer.active
    assert not optimizer.deprecated
    assert (param.key, param.device, param.nvme_path) == (PARAM, CPU, None)
    assert not param.pin_memory_set
    assert param.ratio == 1.0
    assert zero.offloads == (optimizer, param)
    assert optimizer.field("ratio") == "zero_optimization.offload_optimizer.ratio"
    assert param.setting() == "zero_optimization.offload_param.device is 'cpu'"


def test_defaults_and_unknowns():
    zero = read_zero_config(
        {
            "zero_optimization": {
                "stage": 2,
                "offload_optimizer": {},
                "offload_param": {"device": "CPU", "nvme_path": ["/x"]},
            }
        }
    )
    assert zero is not None
    assert zero.optimizer is not None
    assert zero.optimizer.device == NONE
    assert not zero.optimizer.active
    assert zero.param is not None
    assert zero.param.device is None
    assert not zero.param.nvme_path_known


@pytest.mark.parametrize(
    ("section", "present"),
    [(None, False), ("auto", False), ("cpu", True), ([1], True)],
)
def test_null_and_auto_sections_are_absent(section, present):
    zero = read_zero_config({"zero_optimization": {"offload_param": section}})
    assert zero is not None
    assert (zero.param is not None) == present
    if present:
        assert zero.param is not None
        assert zero.param.device is None


def test_auto_values_read_as_unknown_or_default():
    zero = read_zero_config(
        {
            "zero_optimization": {
                "offload_optimizer": {
                    "device": "auto",
                    "ratio": "auto",
                    "pin_memory": "auto",
                    "nvme_path": "auto",
                }
            }
        }
    )
    assert zero is not None
    assert zero.optimizer is not None
    assert zero.optimizer.device is None
    assert zero.optimizer.ratio == 1.0
    assert not zero.optimizer.pin_memory_set
    assert not zero.optimizer.nvme_path_known


@pytest.mark.parametrize("ratio", [True, [0.5], "half", 1.5, -0.1])
def test_unreadable_ratio(ratio):
    zero = read_zero_config(
        {"zero_optimization": {"offload_optimizer": {"device": "cpu", "ratio": ratio}}}
    )
    assert zero is not None
    assert zero.optimizer is not None
    assert zero.optimizer.ratio is None


def test_deprecated_booleans():
    zero = read_zero_config(
        {"zero_optimization": {"stage": 3, "cpu_offload": True, "cpu_offload_param": 1}}
    )
    assert zero is not None
    optimizer, param = zero.optimizer, zero.param
    assert optimizer is not None
    assert optimizer.deprecated
    assert optimizer.device == CPU
    assert optimizer.key == OPTIMIZER
    assert optimizer.setting() == "zero_optimization.cpu_offload is true"
    assert optimizer.field("pin_memory") == "zero_optimization.cpu_offload"
    assert param is not None
    assert param.device is None
    off = read_zero_config({"zero_optimization": {"cpu_offload": False}})
    assert off is not None
    assert off.optimizer is None


def test_conflicts():
    zero = read_zero_config(
        {
            "zero_optimization": {
                "cpu_offload": False,
                "offload_optimizer": {"device": "cpu"},
                "cpu_offload_param": None,
                "offload_param": None,
                "stage3_gather_fp16_weights_on_model_save": True,
                "stage3_gather_16bit_weights_on_model_save": False,
            }
        }
    )
    assert zero is not None
    assert zero.conflicts == (
        ("cpu_offload_param", "offload_param"),
        ("cpu_offload", "offload_optimizer"),
        (
            "stage3_gather_fp16_weights_on_model_save",
            "stage3_gather_16bit_weights_on_model_save",
        ),
    )
    assert zero.optimizer is not None
    assert not zero.optimizer.deprecated
    assert replacement_field("stage3_gather_16bit_weights_on_model_save") == (
        "gather_16bit_weights_on_model_save"
    )
    assert replacement_field("offload_param") == "offload_param"


@pytest.mark.parametrize(
    "section",
    [
        {"cpu_offload": "auto", "offload_optimizer": {"device": "cpu"}},
        {"cpu_offload": True, "offload_optimizer": "auto"},
        {"cpu_offload": [True], "offload_optimizer": {}},
        {"cpu_offload": True},
    ],
)
def test_no_conflict(section):
    zero = read_zero_config({"zero_optimization": section})
    assert zero is not None
    assert zero.conflicts == ()

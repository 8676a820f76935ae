from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.deepspeed_precision import (
    FP16,
    deepspeed_precision,
    is_lamb,
    number,
    precision_configs,
    pydantic_bool,
)
from kubernai.model.graph import ObjectGraph


def load(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "case.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="bool"),
        pytest.param(1, True, id="int-1"),
        pytest.param(0.0, False, id="float-0"),
        pytest.param(2, None, id="int-2"),
        pytest.param("On", True, id="on"),
        pytest.param("off", False, id="off"),
        pytest.param("auto", None, id="auto"),
        pytest.param(None, None, id="null"),
        pytest.param([True], None, id="list"),
    ],
)
def test_pydantic_bool(value, expected):
    assert pydantic_bool(value) is expected


def test_number():
    assert number(128) == 128.0
    assert number("1e3") == 1000.0
    assert number(True) is None
    assert number("abc") is None
    assert number(None) is None


def test_bf16_key_wins_over_legacy_bfloat16():
    sections = deepspeed_precision(
        {"bf16": {"enabled": False}, "bfloat16": {"enabled": True}}
    )
    assert sections.bf16_key == "bf16"
    assert sections.bf16_enabled is False
    legacy = deepspeed_precision({"bf16": None, "bfloat16": {"enabled": "yes"}})
    assert legacy.bf16_key == "bfloat16"
    assert legacy.bf16_enabled is True


def test_fp16_section_reading():
    sections = deepspeed_precision({"fp16": {"enabled": "auto", "loss_scale": 64}})
    assert sections.fp16_enabled is None
    assert sections.fp16_auto
    assert sections.loss_scale == 64.0
    assert sections.written(FP16, "loss_scale") == "64"
    assert deepspeed_precision({}).loss_scale == 0.0
    assert deepspeed_precision({"fp16": {"loss_scale": "auto"}}).loss_scale == 0.0
    assert deepspeed_precision({"fp16": {"loss_scale": -1}}).loss_scale is None
    assert deepspeed_precision({"fp16": "on"}).fp16 is None


def test_is_lamb():
    assert is_lamb({"optimizer": {"type": "OneBitLamb"}})
    assert not is_lamb({"optimizer": {"type": "AdamW"}})
    assert not is_lamb({"optimizer": "Lamb"})


def test_precision_configs_skip_other_json():
    graph = load(
        """\
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: t}
data:
  ds.json: '{"train_batch_size": 8, "fp16": {"enabled": true}}'
  args.json: '{"output_dir": "/o", "fp16": {"enabled": true}}'
  plain.json: '{"train_batch_size": 8}'
  bad.json: '{"fp16": '
"""
    )
    (configmap,) = graph.of_kind("ConfigMap", "t")
    assert [key for key, _ in precision_configs(configmap)] == ["ds.json"]

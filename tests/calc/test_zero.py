from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.calc.zero import (
    deepspeed_zero2_estimate,
    deepspeed_zero3_estimate,
    estimate,
    paper_model_states_bytes,
)
from kubernai.errors import InputError
from tests.conftest import SHARED

VECTORS = SHARED / "reference" / "deepspeed_estimator_vectors.json"


def _whole(value):
    # DeepSpeed was called with floats such as 7e9; every one is a whole number.
    assert value == int(value)
    return int(value)


def run_vector(fn: str, inputs: dict[str, Any]) -> dict[str, int | None]:
    """Call our port with a vector's inputs; return DeepSpeed's output shape."""
    if fn.endswith("estimate_zero2_model_states_mem_needs"):
        r = deepspeed_zero2_estimate(
            _whole(inputs["total_params"]),
            gpus_per_node=inputs["num_gpus_per_node"],
            nodes=inputs["num_nodes"],
            cpu_offload=inputs["cpu_offload"],
            buffer_factor=inputs["additional_buffer_factor"],
        )
        return {
            "cpu_mem_bytes": r.cpu_bytes_per_node,
            "gpu_mem_bytes": r.gpu_bytes_per_gpu,
        }
    assert fn.endswith("estimate_zero3_model_states_mem_needs"), fn
    r = deepspeed_zero3_estimate(
        _whole(inputs["total_params"]),
        _whole(inputs["largest_layer_params"]),
        gpus_per_node=inputs["num_gpus_per_node"],
        nodes=inputs["num_nodes"],
        cpu_offload=inputs["cpu_offload"],
        cpu_offload_params=inputs["cpu_offload_params"],
        zero_init=inputs["zero_init"],
        buffer_factor=inputs["additional_buffer_factor"],
    )
    return {
        "cpu_mem_bytes": r.cpu_bytes_per_node,
        "gpu_mem_bytes": r.gpu_bytes_per_gpu,
        "largest_layer_memory_bytes": r.largest_layer_bytes,
    }


def _shared_vectors():
    if not VECTORS.exists():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(
                    reason=f"{VECTORS} is absent: ../shared is not beside this checkout"
                ),
                id="shared-vectors-absent",
            )
        ]
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [
        pytest.param(
            vector,
            id=f"{i:03d}-{'zero3' if 'zero3' in vector['fn'] else 'zero2'}-{vector['model']}",
        )
        for i, vector in enumerate(data["vectors"])
    ]


@pytest.mark.parametrize("vector", _shared_vectors())
def test_every_deepspeed_vector_to_the_byte(vector):
    got = run_vector(vector["fn"], vector["inputs"])
    assert got == {k: int(v) for k, v in vector["outputs"].items()}


def test_the_shared_file_was_made_by_deepspeed_0_19_8():
    if not VECTORS.exists():
        pytest.skip(f"{VECTORS} is absent: ../shared is not beside this checkout")
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert data["deepspeed_version"] == "0.19.8"
    assert len(data["vectors"]) >= 100


Z2 = "deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs"
Z3 = "deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs"


def _z2(params, gpn, nodes, offload, f=1.5):
    return {
        "total_params": params,
        "num_gpus_per_node": gpn,
        "num_nodes": nodes,
        "cpu_offload": offload,
        "additional_buffer_factor": f,
    }


def _z3(params, layer, gpn, nodes, offload, offload_params, zero_init, f=1.5):
    return {
        **_z2(params, gpn, nodes, offload, f),
        "largest_layer_params": layer,
        "cpu_offload_params": offload_params,
        "zero_init": zero_init,
    }


# Copied from the shared vectors and calculators.md section 2 (DeepSpeed 0.19.8 on CPU),
# so that the port is checked without ../shared.
INLINE = [
    pytest.param(
        Z2, _z2(7e9, 8, 1, False), (336_000_000_000, 29_750_000_000), id="z2-7b-1x8"
    ),
    pytest.param(
        Z2,
        _z2(7e9, 8, 1, True),
        (336_000_000_000, 14_000_000_000),
        id="z2-7b-1x8-offload",
    ),
    pytest.param(
        Z2,
        _z2(7e9, 8, 4, True),
        (1_344_000_000_000, 14_000_000_000),
        id="z2-7b-4x8-offload-uses-all-gpus",
    ),
    pytest.param(
        Z2, _z2(7e9, 8, 4, False), (336_000_000_000, 17_937_500_000), id="z2-7b-4x8"
    ),
    pytest.param(
        Z2,
        _z2(2851e6, 8, 1, False),
        (136_848_000_000, 12_116_750_000),
        id="z2-docs-t5-3b",
    ),
    pytest.param(
        Z2,
        _z2(2851e6, 1, 1, False),
        (17_106_000_000, 57_020_000_000),
        id="z2-t5-3b-1gpu",
    ),
    pytest.param(
        Z2,
        _z2(2851e6, 8, 4, False, 1.0),
        (91_232_000_000, 7_305_687_500),
        id="z2-t5-3b-4x8-f1",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 1, False, False, True),
        (6_291_456_000, 16_274_288_000, 524_288_000),
        id="z3-7b-none-zi1",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 1, False, False, False),
        (336_000_000_000, 16_274_288_000, 524_288_000),
        id="z3-7b-none-zi0",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 1, True, False, True),
        (168_000_000_000, 2_274_288_000, 524_288_000),
        id="z3-7b-opt-zi1",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 1, True, True, True),
        (189_000_000_000, 524_288_000, 524_288_000),
        id="z3-7b-opt-param-zi1",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 1, True, True, False),
        (336_000_000_000, 524_288_000, 524_288_000),
        id="z3-7b-opt-param-zi0",
    ),
    pytest.param(
        Z3,
        _z3(7e9, 131_072_000, 8, 4, True, True, True),
        (47_250_000_000, 524_288_000, 524_288_000),
        id="z3-7b-4x8-opt-param",
    ),
    pytest.param(
        Z3,
        _z3(2851e6, 32e6, 8, 1, False, False, True),
        (1_536_000_000, 6_542_750_000, 128_000_000),
        id="z3-docs-t5-3b",
    ),
    pytest.param(
        Z3,
        _z3(2851e6, 32e6, 1, 1, False, False, True, 1.0),
        (128_000_000, 51_446_000_000, 128_000_000),
        id="z3-t5-3b-1gpu-f1",
    ),
    pytest.param(
        Z3,
        _z3(70_553_706_496, 1_050_673_152, 8, 1, False, False, True),
        (50_432_311_296, 162_948_532_224, 4_202_692_608),
        id="z3-llama-70b-1x8",
    ),
    pytest.param(
        Z3,
        _z3(70_553_706_496, 1_050_673_152, 8, 4, False, False, True),
        (50_432_311_296, 43_889_152_512, 4_202_692_608),
        id="z3-llama-70b-4x8",
    ),
]


@pytest.mark.parametrize(("fn", "inputs", "expected"), INLINE)
def test_inline_deepspeed_vectors(fn, inputs, expected):
    got = run_vector(fn, inputs)
    keys = ("cpu_mem_bytes", "gpu_mem_bytes", "largest_layer_memory_bytes")
    assert tuple(got[k] for k in keys[: len(expected)]) == expected


def test_deepspeed_default_arguments():
    # estimate_zero2_model_states_mem_needs(7e9) and ..._zero3_...(7e9, 131072000):
    # the defaults offload (and zero_init) as DeepSpeed's do.
    z2 = deepspeed_zero2_estimate(7_000_000_000)
    assert (z2.cpu_bytes_per_node, z2.gpu_bytes_per_gpu) == (
        168_000_000_000,
        14_000_000_000,
    )
    z3 = deepspeed_zero3_estimate(7_000_000_000, 131_072_000)
    assert (z3.cpu_bytes_per_node, z3.gpu_bytes_per_gpu, z3.largest_layer_bytes) == (
        189_000_000_000,
        524_288_000,
        524_288_000,
    )


PRINTED_ZERO3 = """\
   71.69GB |   0.12GB | offload_param=cpu, offload_optimizer=cpu, zero_init=1
  127.45GB |   0.12GB | offload_param=cpu, offload_optimizer=cpu, zero_init=0
   63.72GB |   0.78GB | offload_param=none, offload_optimizer=cpu, zero_init=1
  127.45GB |   0.78GB | offload_param=none, offload_optimizer=cpu, zero_init=0
    1.43GB |   6.09GB | offload_param=none, offload_optimizer=none, zero_init=1
  127.45GB |   6.09GB | offload_param=none, offload_optimizer=none, zero_init=0
"""


def test_reproduces_the_printed_all_cold_table_of_the_docs():
    # estimate_zero3_model_states_mem_needs_all_cold(2851e6, 32e6, num_gpus_per_node=8):
    # GiB printed with two decimals and labelled GB.
    for line in PRINTED_ZERO3.splitlines():
        cpu, gpu = (float(x) for x in re.findall(r"([\d.]+)GB", line))
        r = deepspeed_zero3_estimate(
            2_851_000_000,
            32_000_000,
            gpus_per_node=8,
            cpu_offload="offload_optimizer=cpu" in line,
            cpu_offload_params="offload_param=cpu" in line,
            zero_init="zero_init=1" in line,
        )
        assert f"{r.cpu_bytes_per_node / 2**30:.2f}" == f"{cpu:.2f}"
        assert f"{r.gpu_bytes_per_gpu / 2**30:.2f}" == f"{gpu:.2f}"
    # ZeRO-2 all_cold for the same model: 5.31 GiB offloaded, 11.28 GiB not
    # (the docs still show the pre-0.14.3 15.93GB).
    assert (
        round(
            deepspeed_zero2_estimate(2_851_000_000, gpus_per_node=8).gpu_bytes_per_gpu
            / 2**30,
            2,
        )
        == 5.31
    )
    none = deepspeed_zero2_estimate(2_851_000_000, gpus_per_node=8, cpu_offload=False)
    assert round(none.gpu_bytes_per_gpu / 2**30, 2) == 11.28
    assert round(none.cpu_bytes_per_node / 2**30, 2) == 127.45


def test_float_semantics_are_deepspeeds():
    # 1/num_nodes is a float in DeepSpeed: 3 x 18 x (1/3) x 1.5 is evaluated the same way.
    r = deepspeed_zero3_estimate(10**9 + 1, 1, nodes=3, gpus_per_node=1)
    assert r.cpu_bytes_per_node == int((10**9 + 1) * 18 * (1 / 3) * 1.5)


# ZeRO paper, Figure 1: 7.5B parameters on 64 GPUs (GB = 1e9 B).
@pytest.mark.parametrize(
    ("stage", "expected_bytes"),
    [
        pytest.param(0, 120_000_000_000, id="baseline-120GB"),
        pytest.param(1, 31_406_250_000, id="pos-31.4GB"),
        pytest.param(2, 16_640_625_000, id="pos+g-16.6GB"),
        pytest.param(3, 1_875_000_000, id="pos+g+p-1.9GB"),
    ],
)
def test_paper_figure_1(stage, expected_bytes):
    assert (
        paper_model_states_bytes(7_500_000_000, stage=stage, gpus=64) == expected_bytes
    )


# ZeRO paper, Table 1 as computed in calculators.md section 3 (GB): P_os, P_os+g, P_os+g+p.
TABLE_1 = [
    (1, 7.5e9, (120, 120, 120)),
    (4, 7.5e9, (52.5, 41.25, 30)),
    (16, 7.5e9, (35.63, 21.56, 7.5)),
    (64, 7.5e9, (31.41, 16.64, 1.875)),
    (256, 7.5e9, (30.35, 15.41, 0.469)),
    (1024, 7.5e9, (30.09, 15.10, 0.117)),
    (1, 128e9, (2048, 2048, 2048)),
    (4, 128e9, (896, 704, 512)),
    (16, 128e9, (608, 368, 128)),
    (64, 128e9, (536, 284, 32)),
    (256, 128e9, (518, 263, 8)),
    (1024, 128e9, (513.5, 257.75, 2)),
    (1, 1e12, (16000, 16000, 16000)),
    (4, 1e12, (7000, 5500, 4000)),
    (16, 1e12, (4750, 2875, 1000)),
    (64, 1e12, (4187.5, 2218.75, 250)),
    (256, 1e12, (4046.9, 2054.7, 62.5)),
    (1024, 1e12, (4011.7, 2013.7, 15.6)),
]


@pytest.mark.parametrize(
    ("gpus", "params", "expected_gb"),
    [pytest.param(*row, id=f"{row[1]:.3g}-on-{row[0]}") for row in TABLE_1],
)
def test_paper_table_1(gpus, params, expected_gb):
    got = [
        paper_model_states_bytes(int(params), stage=stage, gpus=gpus) / 1e9
        for stage in (1, 2, 3)
    ]
    assert got == pytest.approx(expected_gb, rel=2e-3)


def test_estimate_stage_0_and_1_use_the_paper():
    r = estimate(7_500_000_000, stage=1, gpus_per_node=8, nodes=8)
    assert r.gpu_bytes_per_gpu == r.paper_gpu_bytes_per_gpu == 31_406_250_000
    assert r.cpu_bytes_per_node is None
    assert "ZeRO paper" in r.source
    assert estimate(10**9, stage=0, gpus_per_node=8).gpu_bytes_per_gpu == 16 * 10**9


def test_estimate_stage_2_and_3_use_deepspeed():
    r = estimate(7_000_000_000, stage=2, gpus_per_node=8)
    assert (r.gpu_bytes_per_gpu, r.cpu_bytes_per_node) == (
        29_750_000_000,
        336_000_000_000,
    )
    assert r.paper_gpu_bytes_per_gpu == 26_250_000_000
    assert "estimate_zero2_model_states_mem_needs" in r.source
    assert any("18 = 2 (16-bit grads) + 4 (fp32 grads)" in s for s in r.steps)
    r = estimate(
        7_000_000_000,
        stage=3,
        gpus_per_node=8,
        largest_layer_params=131_072_000,
        cpu_offload=True,
        cpu_offload_params=True,
    )
    assert (r.gpu_bytes_per_gpu, r.cpu_bytes_per_node) == (524_288_000, 189_000_000_000)
    assert r.largest_layer_bytes == 524_288_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"stage": 3}, "ZeRO stage 3 needs the largest layer", id="z3-no-layer"
        ),
        pytest.param({"stage": 4}, "must be 0, 1, 2 or 3", id="stage-4"),
        pytest.param(
            {"stage": 1, "cpu_offload": True}, "no CPU offload", id="z1-offload"
        ),
        pytest.param(
            {"stage": 2, "cpu_offload": True, "cpu_offload_params": True},
            "stage 3 only",
            id="z2-param-offload",
        ),
        pytest.param(
            {"stage": 3, "largest_layer_params": 1, "cpu_offload_params": True},
            "together with offload_optimizer",
            id="params-without-optimizer",
        ),
        pytest.param({"stage": 2, "nodes": 0}, "node count", id="no-nodes"),
        pytest.param({"stage": 2, "gpus_per_node": 0}, "GPU count", id="no-gpus"),
        pytest.param(
            {"stage": 2, "buffer_factor": 0}, "buffer factor", id="zero-buffer"
        ),
    ],
)
def test_estimate_rejects(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        estimate(10**9, **kwargs)


@given(
    params=st.integers(min_value=1, max_value=10**13),
    gpus=st.integers(min_value=1, max_value=4096),
)
def test_paper_stages_never_grow(params, gpus):
    sizes = [paper_model_states_bytes(params, stage=s, gpus=gpus) for s in range(4)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == 16 * params
    if gpus == 1:
        assert set(sizes) == {16 * params}


@given(
    params=st.integers(min_value=1, max_value=10**13),
    gpus_per_node=st.integers(min_value=1, max_value=16),
    nodes=st.integers(min_value=1, max_value=256),
)
def test_deepspeed_float_truncation_equals_floor_for_real_sizes(
    params, gpus_per_node, nodes
):
    # Below ~1e14 parameters, int(18Ψ/N) in floating point is the exact floor.
    r = deepspeed_zero2_estimate(
        params, gpus_per_node=gpus_per_node, nodes=nodes, cpu_offload=False
    )
    assert r.gpu_bytes_per_gpu == 2 * params + 18 * params // (gpus_per_node * nodes)

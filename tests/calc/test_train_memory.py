from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.calc.catalog import Gpu, find_gpu, load_model
from kubernai.calc.kv_cache import GIB, MIB
from kubernai.calc.precision import Precision
from kubernai.calc.train_memory import (
    ModelSizes,
    Optimizer,
    Strategy,
    calculate,
    candidate_gpu_counts,
    model_sizes,
    smallest_fits,
    strategy_memory,
    usable_bytes,
)
from kubernai.calc.zero import deepspeed_zero2_estimate, deepspeed_zero3_estimate
from kubernai.errors import InputError

PSI = 10**9


def h100() -> Gpu:
    gpu = find_gpu("H100")
    assert gpu is not None
    return gpu


SIZES = ModelSizes(params=PSI, unit_params=10**8, largest_layer_params=2 * 10**8)


def mem(
    strategy,
    gpus_per_node=8,
    nodes=1,
    precision=Precision.BF16_MIXED,
    optimizer=Optimizer.ADAMW,
    sizes=SIZES,
):
    return strategy_memory(
        sizes,
        strategy=Strategy(strategy),
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        precision=precision,
        optimizer=optimizer,
    )


# Hand-worked: Ψ = 1e9, unit U = 1e8, largest layer L = 2e8, bf16-mixed AdamW, 8 GPUs
# (ceil(Ψ/8) = 125e6).
@pytest.mark.parametrize(
    ("strategy", "states", "buffers"),
    [
        # fp32 params 4 + fp32 grads 4 + Adam 8; buckets 4Ψ + autocast copies 2Ψ
        pytest.param("ddp", 16 * PSI, 6 * PSI, id="ddp"),
        # replicated; 16-bit copies of two units and one unit's gradient: 3 x 2 B x U
        pytest.param("fsdp-no-shard", 16 * PSI, 6 * 10**8, id="fsdp-no-shard"),
        # 16 x 125e6; two unsharded units and a gradient: 3 x 2 B x U
        pytest.param("fsdp-full-shard", 2 * PSI, 6 * 10**8, id="fsdp-full-shard"),
        # 16 x 125e6; 2 B x Ψ unsharded parameters + one unit's gradient 2 B x U
        pytest.param(
            "fsdp-shard-grad-op", 2 * PSI, 2 * PSI + 2 * 10**8, id="fsdp-shard-grad-op"
        ),
        pytest.param("fsdp-hybrid-shard", 2 * PSI, 6 * 10**8, id="fsdp-hybrid-1-node"),
        # 2Ψ params16 + 2Ψ grads16 + (4 master + 8 Adam + 4 fp32 grads) x 125e6
        pytest.param("zero1", 6 * PSI, 0, id="zero1"),
        # 2Ψ + (2 + 4 + 8 + 4) x 125e6
        pytest.param("zero2", 2 * PSI + 2_250_000_000, 0, id="zero2"),
        # (2 params16 + 4 fp32 grads + 4 master + 8 Adam) x 125e6; 4 B x L
        pytest.param("zero3", 2_250_000_000, 8 * 10**8, id="zero3"),
    ],
)
def test_hand_worked_per_strategy(strategy, states, buffers):
    m = mem(strategy)
    assert (m.model_states_bytes, m.buffer_bytes) == (states, buffers)
    assert m.total_bytes == states + buffers


def test_hybrid_shards_within_the_node_only():
    hybrid = mem("fsdp-hybrid-shard", nodes=2)
    full = mem("fsdp-full-shard", nodes=2)
    assert hybrid.shard_group == 8
    assert full.shard_group == 16
    assert hybrid.model_states_bytes == 16 * 125_000_000
    assert full.model_states_bytes == 16 * 62_500_000


def test_zero2_and_zero3_equal_deepspeeds_estimator_without_offload():
    # With Ψ divisible by N, ceil(Ψ/N) and DeepSpeed's int(18Ψ/N) agree to the byte.
    for nodes in (1, 2, 4):
        gpus = 8 * nodes
        z2 = deepspeed_zero2_estimate(
            PSI, gpus_per_node=8, nodes=nodes, cpu_offload=False
        )
        assert mem("zero2", nodes=nodes).total_bytes == z2.gpu_bytes_per_gpu
        z3 = deepspeed_zero3_estimate(
            PSI,
            2 * 10**8,
            gpus_per_node=8,
            nodes=nodes,
            cpu_offload=False,
            cpu_offload_params=False,
        )
        assert mem("zero3", nodes=nodes).total_bytes == z3.gpu_bytes_per_gpu, gpus


@pytest.mark.parametrize(
    ("strategy", "precision", "optimizer", "total"),
    [
        # fp32: no autocast copies; buckets 4Ψ
        pytest.param("ddp", Precision.FP32, Optimizer.ADAMW, 20 * PSI, id="ddp-fp32"),
        # bf16 params 2 + grads 2 + bf16 Adam 4 + buckets 2
        pytest.param(
            "ddp", Precision.BF16_PURE, Optimizer.ADAM, 10 * PSI, id="ddp-bf16-pure"
        ),
        # SGD keeps no state: 4 + 4 + buckets 4 + copies 2
        pytest.param(
            "ddp", Precision.BF16_MIXED, Optimizer.SGD, 14 * PSI, id="ddp-sgd"
        ),
        pytest.param(
            "ddp",
            Precision.FP16_MIXED,
            Optimizer.SGD_MOMENTUM,
            18 * PSI,
            id="ddp-sgd-momentum",
        ),
        # fp32 NO_SHARD has no low-precision copies
        pytest.param(
            "fsdp-no-shard",
            Precision.FP32,
            Optimizer.ADAMW,
            16 * PSI,
            id="no-shard-fp32",
        ),
        # fp32 FULL_SHARD all-gathers fp32 units: 3 x 4 B x U
        pytest.param(
            "fsdp-full-shard",
            Precision.FP32,
            Optimizer.ADAMW,
            2 * PSI + 12 * 10**8,
            id="full-shard-fp32",
        ),
        # zero2 with SGD: 2Ψ + (2 + 4 + 0 + 4) x 125e6
        pytest.param(
            "zero2",
            Precision.BF16_MIXED,
            Optimizer.SGD,
            2 * PSI + 1_250_000_000,
            id="zero2-sgd",
        ),
    ],
)
def test_precision_and_optimizer(strategy, precision, optimizer, total):
    assert mem(strategy, precision=precision, optimizer=optimizer).total_bytes == total


@pytest.mark.parametrize("strategy", ["zero1", "zero2", "zero3"])
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.BF16_PURE])
def test_zero_is_modelled_for_mixed_precision_only(strategy, precision):
    with pytest.raises(InputError, match="bf16-mixed or fp16-mixed"):
        mem(strategy, precision=precision)


def test_unknown_unit_is_said_not_silently_zero():
    m = mem("fsdp-full-shard", sizes=ModelSizes(params=PSI))
    assert m.buffer_bytes == 0
    assert any("not counted" in note for note in m.notes)
    m = mem("zero3", sizes=ModelSizes(params=PSI))
    assert any("largest layer" in note and "not counted" in note for note in m.notes)


def test_model_sizes_from_the_catalog():
    sizes = model_sizes(load_model("meta-llama/Llama-3.1-70B"))
    # DeepSpeed's largest_layer_params for Llama-3.1-70B: the embedding 128256 x 8192.
    assert sizes.largest_layer_params == 1_050_673_152
    assert sizes.params == 70_554_000_000
    assert sizes.unit_params == 1_050_673_152  # the embedding beats one block (869M)


def test_usable_memory_of_an_h100():
    gpu = h100()
    assert usable_bytes(gpu) == (81_559 - 440) * MIB - GIB // 2


def test_llama_8b_on_h100s():
    sizes = model_sizes(load_model("meta-llama/Llama-3.1-8B"))
    gpu = h100()
    ddp = calculate(sizes, gpu=gpu, strategy=Strategy.DDP, gpus_per_node=8)
    assert not ddp.fits
    assert ddp.memory.total_bytes == 22 * 8_030_000_000
    full = calculate(sizes, gpu=gpu, strategy=Strategy.FSDP_FULL_SHARD, gpus_per_node=8)
    assert full.fits
    assert not full.activations_included
    assert any("activations not included" in step for step in full.steps)
    best = full.smallest[0]
    assert (best.strategy, best.gpus) == (Strategy.FSDP_FULL_SHARD, 2)
    by_strategy = {m.strategy: m.gpus for m in full.smallest}
    assert Strategy.DDP not in by_strategy  # 164 GiB never fits 78.7 GiB
    assert by_strategy[Strategy.ZERO2] == 4
    assert by_strategy[Strategy.FSDP_HYBRID_SHARD] == 16  # on one node it is FULL_SHARD


def test_a_small_model_fits_one_gpu_with_ddp():
    sizes = ModelSizes(params=1_000_000_000)
    r = calculate(sizes, gpu=h100(), strategy=Strategy.DDP, gpus_per_node=8)
    assert r.fits
    assert (r.smallest[0].gpus, r.smallest[0].strategy) in {
        (1, Strategy.FSDP_NO_SHARD),
        (1, Strategy.ZERO1),
        (1, Strategy.DDP),
    }
    assert r.smallest[0].gpus == 1


def test_candidate_counts():
    assert candidate_gpu_counts(8, max_nodes=3) == [1, 2, 4, 8, 16, 24]
    assert candidate_gpu_counts(1, max_nodes=2) == [1, 2]


def test_nothing_fits_a_tiny_budget():
    assert (
        smallest_fits(
            SIZES,
            usable_bytes=10,
            gpus_per_node=8,
            precision=Precision.BF16_MIXED,
            optimizer=Optimizer.ADAMW,
            max_nodes=4,
        )
        == ()
    )


def test_bad_counts():
    with pytest.raises(InputError):
        mem("ddp", gpus_per_node=0)
    with pytest.raises(InputError):
        mem("ddp", sizes=ModelSizes(params=0))


@given(
    params=st.integers(min_value=1, max_value=10**12),
    nodes=st.integers(min_value=1, max_value=64),
)
def test_sharding_more_never_costs_more(params, nodes):
    sizes = ModelSizes(
        params=params,
        unit_params=params // 10 or 1,
        largest_layer_params=params // 10 or 1,
    )
    fewer = strategy_memory(
        sizes, strategy=Strategy.FSDP_FULL_SHARD, gpus_per_node=8, nodes=nodes
    )
    more = strategy_memory(
        sizes, strategy=Strategy.FSDP_FULL_SHARD, gpus_per_node=8, nodes=nodes + 1
    )
    assert more.total_bytes <= fewer.total_bytes
    z = [
        strategy_memory(
            sizes, strategy=s, gpus_per_node=8, nodes=nodes
        ).model_states_bytes
        for s in (Strategy.ZERO1, Strategy.ZERO2, Strategy.ZERO3)
    ]
    assert z == sorted(z, reverse=True)

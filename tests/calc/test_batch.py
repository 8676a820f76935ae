from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.calc.batch import NO_BATCH_KEY, calculate, ddp_buckets, deepspeed_batch
from kubernai.errors import InputError

MiB = 2**20


def test_global_batch_uses_the_data_parallel_size():
    r = calculate(
        world_size=64,
        micro_batch=4,
        grad_accum=8,
        tensor_parallel=2,
        pipeline_parallel=2,
    )
    assert r.data_parallel_size == 16
    assert r.global_batch_size == 4 * 8 * 16 == 512
    assert r.consistent
    assert r.derived == ("train_batch_size",)
    assert r.train_batch_size == 512


def test_context_parallel_counts_too():
    r = calculate(world_size=32, micro_batch=1, grad_accum=1, context_parallel=4)
    assert r.data_parallel_size == 8


def test_deepspeeds_message_when_the_keys_disagree():
    r = calculate(
        world_size=64,
        micro_batch=4,
        grad_accum=8,
        tensor_parallel=2,
        train_batch_size=256,
    )
    assert not r.consistent
    assert r.message == (
        "Check batch related parameters. train_batch_size is not equal to "
        "micro_batch_per_gpu * gradient_acc_step * world_size 256 != 4 * 8 * 32"
    )
    assert r.global_batch_size == 1024


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # accumulation = 100 // 3 // 4 = 8, and 3 x 8 x 4 = 96 != 100
        pytest.param(
            {"train_batch_size": 100, "micro_batch": 3},
            (
                100,
                3,
                8,
                "Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * gradient_acc_step * world_size 100 != 3 * 8 * 4",
            ),
            id="train+micro-floor",
        ),
        pytest.param(
            {"train_batch_size": 96, "micro_batch": 3}, (96, 3, 8, ""), id="train+micro"
        ),
        # micro = 64 // 4 // 4 = 4
        pytest.param(
            {"train_batch_size": 64, "grad_accum": 4}, (64, 4, 4, ""), id="train+accum"
        ),
        pytest.param({"train_batch_size": 32}, (32, 8, 1, ""), id="train-only"),
        pytest.param({"micro_batch": 2}, (8, 2, 1, ""), id="micro-only"),
        # accumulation = 8 // 4 // 4 = 0
        pytest.param(
            {"train_batch_size": 8, "micro_batch": 4},
            (8, 4, 0, "Gradient accumulation steps: 0 has to be greater than 0"),
            id="derived-zero-accum",
        ),
        pytest.param(
            {"train_batch_size": 2},
            (2, 0, 1, "Micro batch size per gpu: 0 has to be greater than 0"),
            id="derived-zero-micro",
        ),
    ],
)
def test_deepspeed_fills_in_then_checks(kwargs, expected):
    train, micro, accum, _derived, message = deepspeed_batch(
        data_parallel_size=4, **kwargs
    )
    assert (train, micro, accum, message) == expected


def test_neither_key_is_deepspeeds_error():
    assert (
        NO_BATCH_KEY
        == "Either train_batch_size or train_micro_batch_size_per_gpu needs to be provided"
    )
    with pytest.raises(InputError, match=NO_BATCH_KEY):
        calculate(world_size=8, grad_accum=4)


def test_world_not_divisible_by_model_parallel():
    with pytest.raises(
        InputError,
        match=r"world size 12 is not divisible by TP x PP x CP = 8 x 1 x 1 = 8",
    ):
        calculate(world_size=12, micro_batch=1, tensor_parallel=8)


def test_values_below_one():
    with pytest.raises(InputError, match="micro_batch must be at least 1"):
        calculate(world_size=8, micro_batch=0)


def test_gradient_syncs_per_optimizer_step():
    r = calculate(world_size=8, micro_batch=2, grad_accum=8)
    syncs = {s.strategy: s.gradient_collectives_per_step for s in r.syncs}
    assert syncs["ddp"] == 1  # no_sync() on the first 7 micro-batches
    assert syncs["ddp without no_sync()"] == 8
    assert syncs["zero1"] == 1  # at the accumulation boundary
    assert syncs["zero2"] == 8  # reduce-scatter every micro-batch
    assert syncs["zero3"] == 8
    assert syncs["fsdp-full-shard"] == 8
    assert syncs["fsdp-no-shard"] == 8


def test_no_accumulation_means_one_sync_everywhere():
    r = calculate(world_size=8, micro_batch=2, grad_accum=1)
    assert {s.gradient_collectives_per_step for s in r.syncs} == {1}


@pytest.mark.parametrize(
    ("gradient_bytes", "buckets"),
    [
        pytest.param(0, 1, id="empty"),
        pytest.param(MiB, 1, id="first-bucket"),
        pytest.param(26 * MiB, 2, id="first-plus-one"),
        pytest.param(51 * MiB, 3, id="first-plus-two"),
        pytest.param(51 * MiB + 1, 4, id="spills"),
        # Llama-3.1-8B fp32 gradients: 32.12 GB
        pytest.param(
            8_030_000_000 * 4,
            1 + -(-(32_120_000_000 - MiB) // (25 * MiB)),
            id="llama-8b",
        ),
    ],
)
def test_ddp_buckets(gradient_bytes, buckets):
    assert ddp_buckets(gradient_bytes) == buckets


@given(
    micro=st.integers(min_value=1, max_value=64),
    accum=st.integers(min_value=1, max_value=64),
    dp=st.integers(min_value=1, max_value=512),
)
def test_given_micro_and_accum_deepspeed_agrees(micro, accum, dp):
    train, *_rest, message = deepspeed_batch(
        data_parallel_size=dp, micro_batch=micro, grad_accum=accum
    )
    assert train == micro * accum * dp
    assert message == ""
    _, m, a, _, message = deepspeed_batch(
        data_parallel_size=dp, train_batch_size=train, micro_batch=micro
    )
    assert (m, a, message) == (micro, accum, "")

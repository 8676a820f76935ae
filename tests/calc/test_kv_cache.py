from __future__ import annotations

import json

import pytest

from kubernai.calc.catalog import find_gpu, load_model, model_from_config
from kubernai.calc.kv_cache import (
    GIB,
    CalcError,
    ServeConfig,
    batch_defaults,
    calculate,
    pipeline_partitions,
)


def run(model: str, gpu: str = "H100", **config):
    return calculate(load_model(model), find_gpu(gpu), ServeConfig(**config))


def test_gqa_worked_example_llama_8b():
    # calculators.md 1.8: 60 GiB of KV on one GPU, bf16, block 16.
    r = run(
        "meta-llama/Llama-3.1-8B-Instruct",
        kv_cache_memory_bytes=60 * GIB,
        max_model_len=131072,
    )
    assert r.page_size_bytes == 65_536
    assert r.kv_bytes_per_token == 131_072
    assert r.num_blocks == 30_720
    assert r.kv_cache_tokens == 491_520
    assert r.max_concurrency == pytest.approx(3.75)
    assert r.fits


@pytest.mark.parametrize(
    ("model", "bf16", "fp8"),
    [
        ("meta-llama/Llama-3.2-1B", 32_768, 16_384),
        ("meta-llama/Llama-3.1-70B", 327_680, 163_840),
        ("Qwen/Qwen2.5-7B", 57_344, 28_672),
        ("Qwen/Qwen3-8B", 147_456, 73_728),
        ("microsoft/Phi-3-mini-4k-instruct", 393_216, 196_608),
        ("deepseek-ai/DeepSeek-V3", 70_272, 35_136),
    ],
)
def test_bytes_per_token_against_the_reference_table(model, bf16, fp8):
    assert run(model, kv_cache_memory_bytes=GIB).kv_bytes_per_token == bf16
    assert (
        run(model, kv_cache_memory_bytes=GIB, kv_cache_dtype="fp8").kv_bytes_per_token
        == fp8
    )


def test_mla_has_no_factor_two_and_is_replicated_across_tp():
    one = run("deepseek-ai/DeepSeek-R1", gpu="H200", kv_cache_memory_bytes=10 * GIB)
    eight = run(
        "deepseek-ai/DeepSeek-R1",
        gpu="H200",
        tensor_parallel_size=8,
        kv_cache_memory_bytes=10 * GIB,
    )
    # FlashMLA forces 64-token blocks: 64 x 576 x 2 B per layer, x 61 layers per block.
    assert one.block_size == 64
    assert one.page_size_bytes == 73_728
    assert one.page_size_bytes * 61 == 4_497_408
    assert eight.kv_bytes_per_token == one.kv_bytes_per_token == 70_272
    assert eight.kv_heads_per_gpu == 1


def test_kv_heads_are_replicated_when_tp_exceeds_them():
    r = run("Qwen/Qwen2.5-7B", tensor_parallel_size=4, kv_cache_memory_bytes=GIB)
    assert r.kv_heads_per_gpu == 1  # 4 KV heads // 4 = 1
    r = run(
        "meta-llama/Llama-3.1-70B", tensor_parallel_size=16, kv_cache_memory_bytes=GIB
    )
    assert r.kv_heads_per_gpu == 1  # 8 // 16 = 0 -> replicated, not split


def test_heads_not_divisible_by_tp_is_vllms_error():
    with pytest.raises(
        CalcError,
        match=r"Total number of attention heads \(28\) must be divisible by tensor parallel size \(8\)\.",
    ):
        run("Qwen/Qwen2.5-7B", tensor_parallel_size=8)


def test_sliding_window_groups_gpt_oss_20b():
    r = run("openai/gpt-oss-20b", kv_cache_memory_bytes=40 * GIB)
    # 12 sliding + 12 full layers -> two groups of 12 sharing one pool of blocks.
    assert (r.groups, r.group_size) == (2, 12)
    assert r.page_size_bytes == 32_768  # 2 x 16 x 8 x 64 x 2
    assert r.num_blocks == 40 * GIB // 32_768 // 12 == 109_226
    assert r.kv_cache_tokens == 109_226 // 2 * 16 == 873_808
    # full group: cdiv(131072, 16) = 8192; sliding: cdiv(min(128 - 1 + 8192, 131072), 16) + 1 = 521
    assert r.max_num_batched_tokens == 8192
    assert r.blocks_per_request == 8192 + 521
    assert r.max_concurrency == pytest.approx(109_226 / 8713)


def test_does_not_fit_gives_vllms_message_and_estimate():
    r = run(
        "meta-llama/Llama-3.1-8B", kv_cache_memory_bytes=10 * GIB, max_model_len=131072
    )
    assert not r.fits
    assert r.message.startswith(
        "To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is needed"
    )
    # 10 GiB / (16 x 131072 B per block-token) -> 5120 blocks -> 81920 tokens.
    assert "the estimated maximum model length is 81920." in r.message


def test_weights_that_do_not_fit_the_device():
    r = run("meta-llama/Llama-3.1-70B", gpu="L40S", tensor_parallel_size=2)
    assert not r.fits
    assert "loading fails with torch.OutOfMemoryError" in r.message


def test_max_model_len_above_the_model():
    with pytest.raises(
        CalcError,
        match=r"User-specified max_model_len \(200000\) is greater than the derived max_model_len",
    ):
        run("meta-llama/Llama-3.1-8B", max_model_len=200_000)


def test_pipeline_partitions_like_vllm():
    assert pipeline_partitions(61, 4) == [15, 15, 16, 15]
    assert pipeline_partitions(80, 3) == [27, 27, 26]
    assert pipeline_partitions(22, 4) == [5, 6, 6, 5]
    assert pipeline_partitions(32, 1) == [32]


def test_batch_defaults():
    assert batch_defaults(79 * GIB, "NVIDIA H100 80GB HBM3") == (1024, 8192)
    assert batch_defaults(79 * GIB, "NVIDIA A100-SXM4-80GB") == (256, 2048)
    assert batch_defaults(44 * GIB, "NVIDIA L40S") == (256, 2048)


def test_hf_config_json(tmp_path):
    config = {
        "model_type": "llama",
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "intermediate_size": 14336,
        "max_position_embeddings": 131072,
        "torch_dtype": "bfloat16",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    model = model_from_config(path)
    assert (model.head_dim, model.kv_heads, model.sliding_layers) == (128, 8, ())
    assert model.params == pytest.approx(8.03e9, rel=0.01)
    r = calculate(model, find_gpu("H100"), ServeConfig(kv_cache_memory_bytes=60 * GIB))
    assert r.kv_cache_tokens == 491_520


def test_hf_config_with_layer_types_and_mla(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "model_type": "deepseek_v3",
                "num_hidden_layers": 4,
                "hidden_size": 1024,
                "num_attention_heads": 8,
                "kv_lora_rank": 512,
                "qk_rope_head_dim": 64,
                "layer_types": ["full_attention"] * 4,
            }
        )
    )
    model = model_from_config(path)
    assert model.attention == "mla"
    assert model.head_size == 576
    assert model.sliding_layers == ()


def test_fp8_checkpoint_weights_stay_one_byte_with_a_bf16_dtype():
    auto = run(
        "deepseek-ai/DeepSeek-V3",
        gpu="H200",
        tensor_parallel_size=8,
        kv_cache_memory_bytes=GIB,
    )
    bf16 = run(
        "deepseek-ai/DeepSeek-V3",
        gpu="H200",
        tensor_parallel_size=8,
        dtype="bfloat16",
        kv_cache_memory_bytes=GIB,
    )
    assert auto.weights_bytes == bf16.weights_bytes == 671_000_000_000 // 8


def test_llama_3_and_3_1_differ_in_context():
    assert (
        load_model("meta-llama/Meta-Llama-3-8B-Instruct").max_position_embeddings
        == 8192
    )
    assert (
        load_model("meta-llama/Llama-3.1-8B-Instruct").max_position_embeddings == 131072
    )
    assert load_model("Qwen/Qwen2.5-72B-Instruct").max_position_embeddings == 32768

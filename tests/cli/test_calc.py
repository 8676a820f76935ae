import io
import json

from kubernai.cli.main import main


def invoke(*argv):
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_kv_cache_json_fields():
    code, out, _ = invoke(
        "calc",
        "kv-cache",
        "--model",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--gpu",
        "NVIDIA-H100-80GB-HBM3",
        "--max-model-len",
        "131072",
        "--kv-cache-memory-bytes",
        str(60 * 2**30),
        "-f",
        "json",
    )
    assert code == 0
    result = json.loads(out)
    assert {
        "kv_bytes_per_token",
        "weights_bytes",
        "kv_cache_bytes",
        "kv_cache_tokens",
        "max_concurrency",
        "fits",
    } <= set(result)
    assert result["kv_cache_tokens"] == 491_520
    assert result["fits"] is True


def test_kv_cache_text_explains_and_exits_one_when_it_does_not_fit():
    code, out, _ = invoke(
        "calc",
        "kv-cache",
        "--model",
        "meta-llama/Llama-3.1-8B",
        "--gpu-memory",
        "22",
        "--max-model-len",
        "131072",
    )
    assert code == 1
    assert "page (one block of one layer) = 2 (K and V) x 16 tokens" in out
    assert "GPU KV cache size:" in out
    assert "fits: NO" in out
    assert "To serve at least one request with the models's max seq len (131072)" in out


def test_kv_cache_errors_are_usage_errors():
    code, _, err = invoke(
        "calc", "kv-cache", "--model", "no/such-model", "--gpu", "H100"
    )
    assert code == 2
    assert "unknown model 'no/such-model'" in err
    code, _, err = invoke(
        "calc", "kv-cache", "--model", "Qwen/Qwen2.5-7B", "--gpu", "H100", "-tp", "8"
    )
    assert code == 2
    assert "must be divisible by tensor parallel size (8)" in err
    code, _, err = invoke(
        "calc", "kv-cache", "--model", "Qwen/Qwen2.5-7B", "--gpu", "Z9"
    )
    assert code == 2
    assert "unknown GPU 'Z9'" in err
    assert invoke("calc")[0] == 2

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.sharding import (
    FULL_SHARD,
    HYBRID_SHARD,
    HYBRID_SHARD_ZERO2,
    NO_SHARD,
    SHARD_GRAD_OP,
    ReplicatedRun,
    Sharding,
    launch_sharding,
    normalise_strategy,
    replicated_run,
)
from kubernai.model.training import Launch, launches


def launch_of(command: list[str], env: dict[str, str] | None = None) -> Launch:
    container: dict[str, Any] = {"name": "c", "command": command}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [container]},
    }
    loaded = LoadResult()
    load_text(yaml.safe_dump(document), "p.yaml", result=loaded)
    (launch,) = launches(loaded.resources[0].templates[0])
    return launch


def sharding(command: list[str], **env: str) -> Sharding | None:
    return launch_sharding(launch_of(command, env))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FULL_SHARD", FULL_SHARD),
        ("full_shard", FULL_SHARD),
        ("full", FULL_SHARD),
        ("shard-grad-op", SHARD_GRAD_OP),
        ("NO_SHARD", NO_SHARD),
        ("hybrid", HYBRID_SHARD),
        ("_HYBRID_SHARD_ZERO2", HYBRID_SHARD_ZERO2),
        ("1", None),
        ("fsdp", None),
    ],
)
def test_normalise_strategy(text: str, expected: str | None) -> None:
    assert normalise_strategy(text) == expected


@pytest.mark.parametrize(
    ("command", "env", "strategy", "version"),
    [
        pytest.param(
            ["torchrun", "run.py", "--fsdp", "full_shard auto_wrap"],
            {},
            FULL_SHARD,
            1,
            id="hf-full-shard",
        ),
        pytest.param(
            ["torchrun", "run.py", "--fsdp=auto_wrap hybrid_shard"],
            {},
            HYBRID_SHARD,
            1,
            id="hf-hybrid-second-word",
        ),
        pytest.param(
            ["accelerate", "launch", "--use_fsdp", "t.py"],
            {},
            FULL_SHARD,
            1,
            id="accelerate-default",
        ),
        pytest.param(
            [
                "accelerate",
                "launch",
                "--use_fsdp",
                "--fsdp_sharding_strategy",
                "2",
                "t.py",
            ],
            {},
            SHARD_GRAD_OP,
            1,
            id="accelerate-number",
        ),
        pytest.param(
            ["accelerate", "launch", "--use_fsdp", "--fsdp_version", "2", "t.py"],
            {},
            FULL_SHARD,
            2,
            id="accelerate-fsdp2-default",
        ),
        pytest.param(
            [
                "accelerate",
                "launch",
                "--use_fsdp",
                "--fsdp_version=2",
                "--fsdp_reshard_after_forward=false",
                "t.py",
            ],
            {},
            SHARD_GRAD_OP,
            2,
            id="accelerate-fsdp2-no-reshard",
        ),
        pytest.param(
            ["torchrun", "t.py"],
            {"ACCELERATE_USE_FSDP": "true", "FSDP_SHARDING_STRATEGY": "HYBRID_SHARD"},
            HYBRID_SHARD,
            1,
            id="accelerate-env",
        ),
        pytest.param(
            ["torchrun", "t.py"],
            {"ACCELERATE_USE_FSDP": "true"},
            FULL_SHARD,
            1,
            id="accelerate-env-default",
        ),
        pytest.param(
            ["torchrun", "t.py", "--sharding-strategy", "full"],
            {},
            FULL_SHARD,
            1,
            id="script-option",
        ),
        pytest.param(
            ["torchrun", "recipes/finetuning.py", "--enable_fsdp", "--pure_bf16"],
            {},
            FULL_SHARD,
            1,
            id="llama-recipes-default",
        ),
    ],
)
def test_launch_sharding(
    command: list[str], env: dict[str, str], strategy: str, version: int
) -> None:
    found = sharding(command, **env)
    assert found is not None
    assert (found.strategy, found.fsdp_version) == (strategy, version)


@pytest.mark.parametrize(
    ("command", "env"),
    [
        pytest.param(["torchrun", "t.py"], {}, id="nothing-said"),
        pytest.param(
            ["accelerate", "launch", "--config_file", "c.yaml", "--use_fsdp", "t.py"],
            {},
            id="config-file-may-choose",
        ),
        pytest.param(
            ["accelerate", "launch", "--use_fsdp", "--use_parallelism_config", "t.py"],
            {},
            id="parallelism-config",
        ),
        pytest.param(
            ["torchrun", "t.py", "--sharding_strategy", "1"],
            {},
            id="script-number-ambiguous",
        ),
        pytest.param(
            ["torchrun", "t.py", "--fsdp", "full_shard", "--deepspeed", "z.json"],
            {},
            id="deepspeed-wins",
        ),
        pytest.param(
            ["accelerate", "launch", "t.py"],
            {"ACCELERATE_USE_FSDP": "true"},
            id="launcher-overrides-env",
        ),
        pytest.param(
            ["torchrun", "finetuning.py", "--enable_fsdp", "--hsdp"],
            {},
            id="llama-recipes-hsdp",
        ),
        pytest.param(
            ["torchrun", "finetuning.py", "--enable_fsdp", "False"],
            {},
            id="llama-recipes-disabled",
        ),
    ],
)
def test_launch_sharding_unknown(command: list[str], env: dict[str, str]) -> None:
    assert sharding(command, **env) is None


HF = [
    "--model_name_or_path",
    "meta-llama/Llama-3.1-8B",
    "--per_device_train_batch_size",
    "1",
]


def run(command: list[str], **env: str) -> ReplicatedRun | None:
    return replicated_run(launch_of(command, env))


def test_replicated_run_torchrun() -> None:
    found = run(["torchrun", "--nproc-per-node", "8", "run_clm.py", *HF])
    assert found is not None
    assert found.model == "meta-llama/Llama-3.1-8B"
    assert not found.fp32_weights
    assert found.model_path == ("spec", "containers", 0, "command", 4)


def test_replicated_run_fp32_weights_and_accelerate_multi_gpu() -> None:
    command = ["accelerate", "launch", "--multi_gpu", "run_clm.py", *HF]
    found = run([*command, "--torch_dtype", "float32"])
    assert found is not None
    assert found.fp32_weights
    assert "accelerate launch --multi_gpu" in found.how


@pytest.mark.parametrize(
    ("command", "env"),
    [
        pytest.param(
            ["torchrun", "run.py", *HF, "--fsdp", "full_shard"], {}, id="fsdp"
        ),
        pytest.param(
            ["torchrun", "run.py", *HF, "--fsdp_config", "f.json"], {}, id="cfg"
        ),
        pytest.param(["torchrun", "run.py", *HF, "--deepspeed", "z.json"], {}, id="ds"),
        pytest.param(["torchrun", "run.py", *HF, "--use_peft"], {}, id="peft"),
        pytest.param(
            ["torchrun", "run.py", *HF, "--optim", "adafactor"], {}, id="optim"
        ),
        pytest.param(
            ["torchrun", "run.py", *HF, "--use_galore", "true"], {}, id="galore"
        ),
        pytest.param(["torchrun", "run.py", *HF, "--tp_size", "2"], {}, id="tp"),
        pytest.param(
            ["torchrun", "run.py", *HF], {"ACCELERATE_USE_DEEPSPEED": "true"}, id="env"
        ),
        pytest.param(["accelerate", "launch", "run.py", *HF], {}, id="not-multi-gpu"),
        pytest.param(["deepspeed", "run.py", *HF], {}, id="deepspeed-launcher"),
        pytest.param(
            ["torchrun", "run.py", "--model_name_or_path", "m", "--batch_size", "1"],
            {},
            id="not-hf-trainer",
        ),
    ],
)
def test_replicated_run_not_certain(command: list[str], env: dict[str, str]) -> None:
    assert run(command, **env) is None

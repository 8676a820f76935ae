"""How a training launch spreads its model states: DDP replicas or FSDP shards.

A data-parallel job either replicates the whole model on every GPU
(``DistributedDataParallel``) or shards it (FSDP, whose
``ShardingStrategy`` decides how far: ``FULL_SHARD``, ``SHARD_GRAD_OP``,
``NO_SHARD``, ``HYBRID_SHARD``, ``_HYBRID_SHARD_ZERO2``; PyTorch
``torch/distributed/fsdp/api.py``). Manifests choose it in a handful of ways,
read here only where the choice is certain:

- the Hugging Face Trainer's ``--fsdp "full_shard auto_wrap"``
  (``transformers/training_args.py``: the value is split on spaces into
  ``FSDPOption`` values ``full_shard``, ``shard_grad_op``, ``hybrid_shard``,
  ``hybrid_shard_zero2``, ``no_shard``, ``offload``, ``auto_wrap``); the
  Trainer sets the accelerate environment from it, so it wins over the
  launcher;
- ``accelerate launch --use_fsdp`` (``accelerate/commands/launch.py``):
  ``--fsdp_version`` (default ``1``); for FSDP1 ``--fsdp_sharding_strategy``
  (default ``FULL_SHARD``; names or their 1-5 positions in
  ``FSDP_SHARDING_STRATEGY``), for FSDP2 ``--fsdp_reshard_after_forward``
  (default ``true``: parameters resharded after forward, as ``FULL_SHARD``).
  A ``--config_file`` may set any of them, so without an explicit flag the
  strategy is unknown then; ``--use_parallelism_config`` may add a replicate
  dimension (HSDP), so it is unknown too. Without ``--config_file`` accelerate
  also reads ``~/.cache/huggingface/accelerate/default_config.yaml`` when the
  image has one; kubernai assumes it has not (training images rarely ship
  one, and ``accelerate config`` writes it on a workstation);
- ``ACCELERATE_USE_FSDP=true`` in the container's environment, for a script
  that builds an ``Accelerator`` under another launcher: ``FSDP_VERSION``
  (default 1) and ``FSDP_SHARDING_STRATEGY`` / ``FSDP_RESHARD_AFTER_FORWARD``
  (``FullyShardedDataParallelPlugin.__post_init__``);
- a training script's own ``--sharding_strategy`` / ``--sharding-strategy``
  when its value names a strategy (``FULL_SHARD``, ``full_shard``, ``full``,
  ``HYBRID_SHARD``, ``hybrid``...); numbers are left out, since scripts
  number the strategies differently;
- llama-recipes / llama-cookbook ``finetuning`` with ``--enable_fsdp``, whose
  ``FSDPConfig.sharding_strategy`` defaults to ``FULL_SHARD`` (``--hsdp`` or
  ``--sharding_strategy`` change it).

``replicated_run`` recognises the opposite case: a Hugging Face Trainer
script (``--per_device_train_batch_size`` is one of its
``TrainingArguments``) launched by torchrun or ``accelerate launch
--multi_gpu`` with neither ``--fsdp`` nor ``--deepspeed``, which the Trainer
wraps in ``DistributedDataParallel``, full training with AdamW (see
``kubernai.model.zero_memory`` for what counts as full training).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernai.model.resource import Path, get_str, iter_maps
from kubernai.model.training import ACCELERATE, TORCHRUN, Launch, normalise
from kubernai.model.workload import memoised
from kubernai.model.zero_memory import HF_ADAMW, model_name, trains_every_parameter

DDP = "DDP"
FULL_SHARD = "FULL_SHARD"
SHARD_GRAD_OP = "SHARD_GRAD_OP"
NO_SHARD = "NO_SHARD"
HYBRID_SHARD = "HYBRID_SHARD"
HYBRID_SHARD_ZERO2 = "_HYBRID_SHARD_ZERO2"
ACCELERATE_STRATEGIES = (
    FULL_SHARD,
    SHARD_GRAD_OP,
    NO_SHARD,
    HYBRID_SHARD,
    HYBRID_SHARD_ZERO2,
)
"""accelerate's ``FSDP_SHARDING_STRATEGY``: position + 1 is the number it accepts."""

_NAMES = {
    "FULL_SHARD": FULL_SHARD,
    "FULL": FULL_SHARD,
    "SHARD_GRAD_OP": SHARD_GRAD_OP,
    "GRAD_OP": SHARD_GRAD_OP,
    "NO_SHARD": NO_SHARD,
    "HYBRID_SHARD": HYBRID_SHARD,
    "HYBRID": HYBRID_SHARD,
    "HYBRID_SHARD_ZERO2": HYBRID_SHARD_ZERO2,
    "_HYBRID_SHARD_ZERO2": HYBRID_SHARD_ZERO2,
}
"""Strategy names as scripts and launchers write them (upper-cased, ``-`` → ``_``)."""

HF_MARKER = "--per-device-train-batch-size"
"""A ``TrainingArguments`` field no other common launcher or script takes."""
_HF_FSDP = ("--fsdp", "--fsdp-config")
_DEEPSPEED = ("--deepspeed", "--deepspeed-config")
_OPTIMIZER_SWAPS = (
    "galore",
    "badam",
    "apollo",
    "adam_mini",
    "adam-mini",
    "lomo",
    "muon",
    "unsloth",
)
"""Script words that replace or shrink AdamW's per-parameter states."""
_FP32_DTYPES = frozenset({"float32", "fp32", "torch.float32"})
_TRUE = frozenset({"true", "1", "yes", "y", "t"})


@dataclass(frozen=True, slots=True)
class Sharding:
    """How a launch spreads the model states, and where the manifest says so."""

    strategy: str
    """``DDP`` or an FSDP ``ShardingStrategy`` name."""
    how: str
    """For messages: ``accelerate launch --use_fsdp (default FULL_SHARD)``."""
    path: Path
    fsdp_version: int = 1


@dataclass(frozen=True, slots=True)
class ReplicatedRun:
    """A Hugging Face Trainer run that keeps a full replica of the model per GPU."""

    launch: Launch
    model: str
    model_path: Path
    fp32_weights: bool
    """``--torch_dtype float32``: weights, gradients and Adam states in fp32.

    Otherwise the weights may be loaded in 16 bits, and the model states are
    at least 2 + 2 + 2 x 2 bytes per parameter (AdamW keeps its states in the
    parameters' dtype)."""
    how: str


def normalise_strategy(value: str) -> str | None:
    """A strategy name as FSDP spells it; ``None`` for anything else."""
    return _NAMES.get(value.strip().upper().replace("-", "_"))


def _script_value(launch: Launch, *names: str) -> tuple[str | None, Path | None]:
    return launch.script_option(*names)


def _hf_fsdp(launch: Launch) -> Sharding | None:
    value, where = _script_value(launch, "--fsdp")
    if where is None or value is None:
        return None
    for word in value.split():
        strategy = normalise_strategy(word)
        if strategy is not None:
            return Sharding(strategy, f"--fsdp {value!r}", where)
    return None


def _accelerate_number(value: str) -> str | None:
    text = value.strip()
    if text.isdigit() and 1 <= int(text) <= len(ACCELERATE_STRATEGIES):
        return ACCELERATE_STRATEGIES[int(text) - 1]
    return normalise_strategy(text)


def _accelerate(launch: Launch) -> Sharding | None:
    if launch.kind != ACCELERATE or not launch.has("--use-fsdp"):
        return None
    if launch.has("--use-parallelism-config"):
        return None
    configured = launch.has("--config-file")
    where = launch.path_of("--use-fsdp")
    version = (launch.get("--fsdp-version") or "").strip()
    if not version:
        if configured:
            return None  # the config file may choose the version
        version = "1"
    if version == "1":
        if launch.has("--fsdp-sharding-strategy"):
            value = launch.get("--fsdp-sharding-strategy") or ""
            strategy = _accelerate_number(value)
            if strategy is None:
                return None
            how = f"accelerate launch --use_fsdp --fsdp_sharding_strategy {value}"
            return Sharding(strategy, how, launch.path_of("--fsdp-sharding-strategy"))
        if configured:
            return None
        how = (
            "accelerate launch --use_fsdp (default --fsdp_sharding_strategy FULL_SHARD)"
        )
        return Sharding(FULL_SHARD, how, where)
    if version == "2":
        if launch.has("--fsdp-reshard-after-forward"):
            value = (launch.get("--fsdp-reshard-after-forward") or "").strip()
            where = launch.path_of("--fsdp-reshard-after-forward")
        elif configured:
            return None
        else:
            value = "true"
        reshard = value.lower()
        if reshard not in ("true", "false"):
            return None
        strategy = FULL_SHARD if reshard == "true" else SHARD_GRAD_OP
        how = (
            "accelerate launch --use_fsdp --fsdp_version 2 "
            f"(reshard_after_forward {reshard})"
        )
        return Sharding(strategy, how, where, fsdp_version=2)
    return None


def _env_item(launch: Launch, name: str) -> tuple[str, Path] | None:
    for index, item in iter_maps(launch.container.raw, "env"):
        if get_str(item, "name") == name:
            value = launch.env.get(name)
            if value is None:
                return None
            return value, (*launch.container.path, "env", index, "value")
    return None


def _accelerate_env(launch: Launch) -> Sharding | None:
    if launch.kind == ACCELERATE:
        return None  # the launcher overwrites these variables from its flags
    use = _env_item(launch, "ACCELERATE_USE_FSDP")
    if use is None or use[0].strip().lower() != "true":
        return None
    version = _env_item(launch, "FSDP_VERSION")
    version_text = version[0].strip() if version else "1"
    if version_text == "1":
        found = _env_item(launch, "FSDP_SHARDING_STRATEGY")
        if found is None:
            how = "ACCELERATE_USE_FSDP=true (default FSDP_SHARDING_STRATEGY FULL_SHARD)"
            return Sharding(FULL_SHARD, how, use[1])
        strategy = _accelerate_number(found[0])
        if strategy is None:
            return None
        return Sharding(strategy, f"FSDP_SHARDING_STRATEGY={found[0]}", found[1])
    if version_text == "2":
        found = _env_item(launch, "FSDP_RESHARD_AFTER_FORWARD")
        value = found[0].strip().lower() if found else "true"
        if value not in ("true", "false"):
            return None
        strategy = FULL_SHARD if value == "true" else SHARD_GRAD_OP
        how = (
            f"ACCELERATE_USE_FSDP=true, FSDP_VERSION=2 (reshard_after_forward {value})"
        )
        return Sharding(strategy, how, found[1] if found else use[1], fsdp_version=2)
    return None


def _script_strategy(launch: Launch) -> Sharding | None:
    value, where = _script_value(launch, "--sharding-strategy")
    if where is None:
        return None
    strategy = normalise_strategy(value or "")
    if strategy is None:
        return None
    return Sharding(strategy, f"--sharding_strategy {value}", where)


def _llama_recipes(launch: Launch) -> Sharding | None:
    if "finetuning" not in launch.script:
        return None
    value, where = _script_value(launch, "--enable-fsdp")
    if where is None:
        return None
    flag = value is None or value.startswith("-")
    if not flag and (value or "").strip().lower() not in _TRUE:
        return None  # --enable_fsdp False
    _, hsdp = _script_value(launch, "--hsdp")
    if hsdp is not None or any(
        "sharding" in token.text.replace("-", "_") for token in launch.script_args
    ):
        return None  # --hsdp, or a strategy this reader does not parse
    how = f"{launch.script} --enable_fsdp (default sharding_strategy FULL_SHARD)"
    return Sharding(FULL_SHARD, how, where)


def _uses_deepspeed(launch: Launch) -> bool:
    if launch.has("--use-deepspeed"):
        return True
    return any(_script_value(launch, name)[1] is not None for name in _DEEPSPEED)


def launch_sharding(launch: Launch) -> Sharding | None:
    """The FSDP strategy a launch certainly uses; ``None`` when unknown or not FSDP.

    Parsed once per container.
    """
    return memoised(launch.container, "sharding", lambda: _launch_sharding(launch))


def _launch_sharding(launch: Launch) -> Sharding | None:
    if _uses_deepspeed(launch):
        return None
    for reader in (
        _hf_fsdp,
        _accelerate,
        _accelerate_env,
        _script_strategy,
        _llama_recipes,
    ):
        found = reader(launch)
        if found is not None:
            return found
    return None


def _has_script_option(launch: Launch, name: str) -> bool:
    return _script_value(launch, name)[1] is not None


def _fsdp_requested(launch: Launch) -> bool:
    value, where = _script_value(launch, "--fsdp")
    if where is not None and (value is None or value.strip() not in ("", "''", '""')):
        return True
    return _has_script_option(launch, "--fsdp-config")


def _launcher_is_ddp(launch: Launch) -> str | None:
    """How the launcher starts plain data-parallel processes, or ``None``."""
    if launch.kind == TORCHRUN:
        return "torchrun"
    if launch.kind == ACCELERATE and launch.has("--multi-gpu"):
        if launch.has("--use-fsdp") or launch.has("--use-deepspeed"):
            return None
        return "accelerate launch --multi_gpu"
    return None


def _env_enables_sharding(launch: Launch) -> bool:
    for name in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"):
        if launch.env.get(name, "").strip().lower() in _TRUE:
            return True
    return False


def _optimizer_is_adamw(launch: Launch) -> bool:
    value, where = _script_value(launch, "--optim")
    if where is not None and (value is None or value.strip().lower() not in HF_ADAMW):
        return False
    for token in launch.script_args:
        text = token.text.lower()
        if any(word in text for word in _OPTIMIZER_SWAPS):
            return False
    return True


def _model_parallel(launch: Launch) -> bool:
    for token in launch.script_args:
        name = token.text.partition("=")[0]
        if not name.startswith("--"):
            continue
        key = normalise(name)
        if "parallel" in key or key in ("--tp", "--tp-size", "--pp", "--cp", "--sp"):
            return True
    return False


def replicated_run(launch: Launch) -> ReplicatedRun | None:
    """A Hugging Face Trainer launch that certainly runs DDP with full AdamW."""
    return memoised(launch.container, "replicated_run", lambda: _replicated_run(launch))


def _replicated_run(launch: Launch) -> ReplicatedRun | None:
    launcher = _launcher_is_ddp(launch)
    if launcher is None or not _has_script_option(launch, HF_MARKER):
        return None
    model = model_name(launch)
    _, model_path = _script_value(launch, "--model-name-or-path")
    if model is None or model_path is None:
        return None
    if _fsdp_requested(launch) or _uses_deepspeed(launch):
        return None
    if _env_enables_sharding(launch) or _model_parallel(launch):
        return None
    if not trains_every_parameter(launch) or not _optimizer_is_adamw(launch):
        return None
    dtype, _ = _script_value(launch, "--torch-dtype", "--dtype")
    fp32 = dtype is not None and dtype.strip().lower() in _FP32_DTYPES
    how = f"Hugging Face Trainer under {launcher}, without --fsdp or --deepspeed"
    return ReplicatedRun(
        launch=launch, model=model, model_path=model_path, fp32_weights=fp32, how=how
    )

"""Where a training workload chooses its number format.

Mixed precision is chosen in one of these places (each read the way its
program reads it):

- Hugging Face ``TrainingArguments`` flags on the script's command line:
  ``--bf16``, ``--fp16``, ``--bf16_full_eval``, ``--fp16_full_eval``
  (``HfArgumentParser`` makes each a ``nargs="?"`` option, ``const=True``, typed
  by ``string_to_bool``: ``yes/true/t/y/1`` and ``no/false/f/n/0``, any case).
  Megatron-LM has ``--fp16``/``--bf16`` switches too. They count only after a
  Python script (``x.py``, ``-m module``) or a Trainer console script: other
  programs (``trtexec``, ``whisper``) use the same words for other things.
- ``accelerate launch --mixed_precision no|fp16|bf16|fp8`` (argparse choices,
  lower case), which the launcher hands to the script as
  ``ACCELERATE_MIXED_PRECISION``; without ``accelerate launch`` that
  environment variable is read directly by ``AcceleratorState``.
- PyTorch Lightning's ``--trainer.precision`` (LightningCLI) or the Hydra
  override ``trainer.precision=`` (NeMo): ``bf16``, ``bf16-mixed``,
  ``bf16-true`` are bf16; ``16``, ``16-mixed``, ``16-true`` are fp16
  (``lightning.fabric.plugins.precision.precision._PRECISION_INPUT``).
- A DeepSpeed config passed to the script (``--deepspeed`` or
  ``--deepspeed_config``) whose ``fp16`` or ``bf16`` section is enabled (see
  ``model/deepspeed_precision.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.deepspeed_batch import (
    HF_OPTION,
    DeepSpeedLaunch,
    deepspeed_launches,
)
from kubernai.model.deepspeed_precision import (
    BF16,
    FP8,
    FP16,
    deepspeed_precision,
)
from kubernai.model.deepspeed_precision import (
    precision_configs as precision_configs,  # read by load/cluster.py
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_str, iter_maps
from kubernai.model.servers import Token, command_tokens
from kubernai.model.training import ACCELERATE, normalise, parse_launch
from kubernai.model.workload import Container, PodTemplate, env_names, memoised

ACCELERATE_ENV = "ACCELERATE_MIXED_PRECISION"
MIXED_PRECISION = "--mixed_precision"

HF_FLAGS = {
    "--bf16": BF16,
    "--fp16": FP16,
    "--bf16-full-eval": BF16,
    "--fp16-full-eval": FP16,
}
"""``TrainingArguments`` precision flags (normalised) and the format each asks for."""
_TRUE = frozenset({"yes", "true", "t", "y", "1"})
_FALSE = frozenset({"no", "false", "f", "n", "0"})
"""``transformers.hf_argparser.string_to_bool`` (compared lower-cased)."""
_LIGHTNING = {
    "bf16": BF16,
    "bf16-mixed": BF16,
    "bf16-true": BF16,
    "16": FP16,
    "16-mixed": FP16,
    "16-true": FP16,
}
"""Lightning ``precision`` values by format (``_PRECISION_INPUT``, legacy ones too)."""
_CLIS = frozenset({"llamafactory-cli", "trl"})
"""Console scripts that parse ``TrainingArguments`` (LLaMA-Factory, TRL)."""
_TRAINING_OPTIONS = frozenset(
    {
        "--output-dir",
        "--do-train",
        "--per-device-train-batch-size",
        "--num-train-epochs",
        "--max-steps",
        "--gradient-accumulation-steps",
        "--learning-rate",
    }
)
"""``TrainingArguments`` options (normalised) that mean a training run."""
_LIGHTNING_OPTION = "--trainer.precision"
_HYDRA_KEY = "trainer.precision"
_ACCELERATE_VALUES = {"fp16": FP16, "bf16": BF16, "fp8": FP8}


def hf_bool(text: str) -> bool | None:
    """``string_to_bool`` of the Hugging Face argument parser; ``None`` if refused."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


@dataclass(frozen=True, slots=True)
class PrecisionSetting:
    """One place that asks for a number format."""

    dtype: str
    """``bf16``, ``fp16`` or ``fp8``."""
    text: str
    """The setting as written, for messages (``--bf16``, ``ConfigMap ...``)."""
    path: Path
    container: Container
    origin: str
    """``trainer`` (HF flags), ``accelerate``, ``lightning`` or ``deepspeed``."""
    eval_only: bool = False
    """``--bf16_full_eval`` / ``--fp16_full_eval``: evaluation only."""


@dataclass(frozen=True, slots=True)
class TrainerFlag:
    """A ``TrainingArguments`` precision flag written on a command line."""

    flag: str
    """Normalised: ``--bf16``, ``--fp16-full-eval``..."""
    written: str
    value: bool
    path: Path


def trainer_flags(container: Container) -> dict[str, TrainerFlag]:
    """The Hugging Face precision flags of a container (the last one wins).

    Only words after a Python script (``x.py``, ``-m module``) or a Trainer
    console script count. A flag whose value is neither a boolean word nor
    absent (``--bf16 $BF16``) is left out: its value is not known.
    """
    return memoised(container, "trainer_flags", lambda: _trainer_flags(container))


def _trainer_flags(container: Container) -> dict[str, TrainerFlag]:
    tokens = command_tokens(container)
    found: dict[str, TrainerFlag] = {}
    in_script = False
    for index, token in enumerate(tokens):
        text = token.text
        if not in_script:
            # Flags count once a Python script runs: other programs (trtexec,
            # whisper) have --fp16/--bf16 switches that mean something else.
            word = text.rsplit("/", 1)[-1]
            in_script = word.endswith(".py") or text == "-m" or word in _CLIS
            continue
        if not text.startswith("--"):
            continue
        name, equals, value = text.partition("=")
        flag = normalise(name)
        if flag not in HF_FLAGS:
            continue
        parsed: bool | None
        written = text
        if equals:
            parsed = hf_bool(value)
        else:
            following = tokens[index + 1].text if index + 1 < len(tokens) else "-"
            if following.startswith("-"):
                parsed = True
            else:
                parsed = hf_bool(following)
                written = f"{text} {following}"
        if parsed is not None:
            found[flag] = TrainerFlag(flag, written, parsed, token.path)
    return found


def training_command(container: Container) -> bool:
    """Whether a container runs a training launcher or a Trainer training run.

    A launcher (torchrun, ``deepspeed``, ``accelerate launch``) or one of the
    ``TrainingArguments`` options that only training uses.
    """
    if parse_launch(container) is not None:
        return True
    return any(
        normalise(token.text.partition("=")[0]) in _TRAINING_OPTIONS
        for token in command_tokens(container)
        if token.text.startswith("--")
    )


def _lightning(tokens: list[Token]) -> Iterator[tuple[str, str, Path]]:
    for index, token in enumerate(tokens):
        text = token.text
        name, equals, value = text.partition("=")
        if name == _LIGHTNING_OPTION:
            if not equals:
                if index + 1 >= len(tokens):
                    continue
                value = tokens[index + 1].text
                text = f"{text} {value}"
        elif name.lstrip("+") != _HYDRA_KEY or not equals:
            continue
        dtype = _LIGHTNING.get(value.strip("'\""))
        if dtype is not None:
            yield dtype, text, token.path


def _accelerate(container: Container) -> PrecisionSetting | None:
    launch = parse_launch(container)
    if launch is not None and launch.kind == ACCELERATE:
        value = launch.get(MIXED_PRECISION)
        dtype = _ACCELERATE_VALUES.get(value or "")
        if dtype is None:
            return None
        return PrecisionSetting(
            dtype,
            f"accelerate launch {MIXED_PRECISION} {value}",
            launch.path_of(MIXED_PRECISION),
            container,
            "accelerate",
        )
    if ACCELERATE_ENV not in env_names(container):
        return None
    for index, item in iter_maps(container.raw, "env"):
        if get_str(item, "name") != ACCELERATE_ENV:
            continue
        value = item.get("value")
        dtype = _ACCELERATE_VALUES.get(value) if isinstance(value, str) else None
        if dtype is not None:
            return PrecisionSetting(
                dtype,
                f"env {ACCELERATE_ENV}={value}",
                (*container.path, "env", index, "value"),
                container,
                "accelerate",
            )
    return None


def _deepspeed(found: DeepSpeedLaunch) -> Iterator[PrecisionSetting]:
    sections = deepspeed_precision(found.config.data)
    container = found.launch.container
    if sections.bf16_enabled:
        yield PrecisionSetting(
            BF16,
            f"{found.source} ({sections.bf16_key}.enabled is true)",
            found.where,
            container,
            "deepspeed",
        )
    if sections.fp16_enabled:
        yield PrecisionSetting(
            FP16,
            f"{found.source} (fp16.enabled is true)",
            found.where,
            container,
            "deepspeed",
        )


def precision_settings(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> tuple[PrecisionSetting, ...]:
    """Every setting of a template's app containers that picks a number format.

    Computed once per template.
    """
    return memoised(
        template,
        "precision_settings",
        lambda: tuple(_settings(resource, template, graph)),
    )


def _settings(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> Iterator[PrecisionSetting]:
    for container in template.containers:
        if container.init:
            continue
        for flag in trainer_flags(container).values():
            if flag.value:
                yield PrecisionSetting(
                    HF_FLAGS[flag.flag],
                    flag.written,
                    flag.path,
                    container,
                    "trainer",
                    eval_only=flag.flag.endswith("-full-eval"),
                )
        accelerate = _accelerate(container)
        if accelerate is not None:
            yield accelerate
        for dtype, text, path in _lightning(command_tokens(container)):
            yield PrecisionSetting(dtype, text, path, container, "lightning")
    for found in _deepspeed_launches(resource, graph):
        if found.template is template:
            yield from _deepspeed(found)


def _deepspeed_launches(
    resource: Resource, graph: ObjectGraph
) -> tuple[DeepSpeedLaunch, ...]:
    """``deepspeed_launches`` of an object, found once for all its templates."""
    return memoised(
        resource,
        "precision_deepspeed_launches",
        lambda: tuple(deepspeed_launches(resource, graph)),
    )


def deepspeed_fp16_launches(
    resource: Resource, graph: ObjectGraph
) -> Iterator[tuple[DeepSpeedLaunch, str]]:
    """Launches whose DeepSpeed engine trains in fp16, and what turns it on.

    ``fp16.enabled`` true, or ``"auto"`` with the Trainer's ``--fp16`` (or
    ``--fp16_full_eval``) written true.
    """
    for found in _deepspeed_launches(resource, graph):
        sections = deepspeed_precision(found.config.data)
        if sections.fp16_enabled:
            yield found, f"fp16.enabled is {sections.written(FP16)}"
        elif sections.fp16_auto and found.option == HF_OPTION:
            flags = trainer_flags(found.launch.container)
            for name in ("--fp16", "--fp16-full-eval"):
                flag = flags.get(name)
                if flag is not None and flag.value:
                    yield found, f'fp16.enabled is "auto" and {flag.written} is given'
                    break


def trainer_deepspeed_launches(
    resource: Resource, graph: ObjectGraph
) -> Iterator[DeepSpeedLaunch]:
    """Launches whose script takes the config as the Trainer's ``--deepspeed``."""
    for found in _deepspeed_launches(resource, graph):
        if found.option == HF_OPTION:
            yield found

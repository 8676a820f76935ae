"""Distributed-training launch lines and DeepSpeed configs in manifests.

Launchers (PyTorch ``torch/distributed/run.py`` and ``argparse_util.py``;
DeepSpeed ``launcher/runner.py``): ``torchrun`` and ``python -m
torch.distributed.run`` (also the older ``torch.distributed.launch``), the
``deepspeed`` launcher and ``accelerate launch``. torchrun reads every option
from the command line or from ``PET_<OPTION>`` environment variables
(``--nproc-per-node`` is ``PET_NPROC_PER_NODE``), and accepts dashes or
underscores. Options end at the training script; what follows belongs to it.

DeepSpeed configs reach a pod as a JSON file, usually a ConfigMap key mounted
into the container and passed as ``--deepspeed <path>`` (HF Trainer) or
``--deepspeed_config <path>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_map, get_str, iter_maps
from kubernai.model.servers import Token, command_tokens
from kubernai.model.workload import Container, PodTemplate, memoised

TORCHRUN, DEEPSPEED, ACCELERATE = "torchrun", "deepspeed", "accelerate"
_TORCHRUN_MODULES = ("torch.distributed.run", "torch.distributed.launch")
_BOOLEAN_OPTIONS = {
    "--standalone",
    "--no-python",
    "--run-path",
    "--module",
    "-m",
    "--use-env",
    "--no-local-rank",
    "--autoscaling",
    "--multi-gpu",
    "--use-deepspeed",
    "--use-fsdp",
    # deepspeed launcher (launcher/runner.py)
    "--no-ssh",
    "--no-ssh-check",
    "--force-multi",
    "--save-pid",
    "--elastic-training",
    "--bind-cores-to-rank",
    "--enable-each-rank-log",
    "--autotuning",
    # accelerate launch
    "--same-network",
    "--use-cpu",
    "--use-megatron-lm",
    "--use-xpu",
    "--debug",
    "--quiet",
    "-q",
    "--cpu",
    "--tpu",
    "--use-parallelism-config",
    "--enable-cpu-affinity",
}
DEEPSPEED_KEYS = frozenset(
    {
        "zero_optimization",
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
    }
)


def normalise(option: str) -> str:
    """``--nproc_per_node`` and ``--nproc-per-node`` are the same option.

    Short options (``-H``) stay as they are.
    """
    if not option.startswith("--") and option.startswith("-"):
        return option
    return "--" + option.lstrip("-").replace("_", "-")


@dataclass(slots=True)
class Launch:
    """One launcher invocation: its options, the script and the script's options."""

    kind: str
    container: Container
    options: dict[str, str | None] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    script: str = ""
    script_args: list[Token] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)

    def get(self, option: str) -> str | None:
        """A launcher option, from the command line or (torchrun) ``PET_*``."""
        key = normalise(option)
        if key in self.options:
            return self.options[key]
        if self.kind == TORCHRUN:
            return self.env.get("PET_" + key[2:].upper().replace("-", "_"))
        return None

    def has(self, option: str) -> bool:
        """Whether an option is given at all."""
        key = normalise(option)
        if key in self.options:
            return True
        return self.kind == TORCHRUN and (
            "PET_" + key[2:].upper().replace("-", "_") in self.env
        )

    def path_of(self, option: str) -> Path:
        """Where an option was written, else the container's command line."""
        found = self.paths.get(normalise(option))
        if found is not None:
            return found
        key = "PET_" + normalise(option)[2:].upper().replace("-", "_")
        for index, item in iter_maps(self.container.raw, "env"):
            if item.get("name") == key:
                return (*self.container.path, "env", index, "value")
        for name in ("command", "args"):
            if name in self.container.raw:
                return (*self.container.path, name)
        return self.container.path

    def script_option(self, *names: str) -> tuple[str | None, Path | None]:
        """The value of a training-script option (``--deepspeed ds.json``).

        A flag given without a value answers ``(None, its path)``;
        an absent one ``(None, None)``.
        """
        wanted = {normalise(n) for n in names}
        bare: Path | None = None
        for index, token in enumerate(self.script_args):
            name, equals, value = token.text.partition("=")
            if not name.startswith("--") or normalise(name) not in wanted:
                continue
            if equals:
                return value, token.path
            following = self.script_args[index + 1 :]
            if following and not following[0].text.startswith("-"):
                return following[0].text, token.path
            # ``--deepspeed`` is also a bare flag: look on for the other names.
            bare = bare or token.path
        return None, bare


def _env(container: Container) -> dict[str, str]:
    found = {}
    for _, item in iter_maps(container.raw, "env"):
        name, value = get_str(item, "name"), item.get("value")
        if (
            name
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            found[name] = str(value)
    return found


def _start(tokens: list[Token]) -> tuple[str, int] | None:
    """The launcher and the index of its first option."""
    for index, token in enumerate(tokens):
        word = token.text.rsplit("/", 1)[-1]
        if word == "torchrun":
            return TORCHRUN, index + 1
        if word == "deepspeed":
            return DEEPSPEED, index + 1
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        if word == "accelerate" and following == "launch":
            return ACCELERATE, index + 2
        if token.text == "-m" and following in _TORCHRUN_MODULES:
            return TORCHRUN, index + 2
    return None


def parse_launch(container: Container) -> Launch | None:
    """The launcher a container runs, with its options; ``None`` if none.

    Parsed once per container.
    """
    return memoised(container, "launch", lambda: _parse_launch(container))


def _parse_launch(container: Container) -> Launch | None:
    tokens = command_tokens(container)
    start = _start(tokens)
    if start is None:
        return None
    kind, index = start
    launch = Launch(kind=kind, container=container, env=_env(container))
    while index < len(tokens):
        token = tokens[index]
        text = token.text
        if not text.startswith("-") or text == "-":
            launch.script = text
            launch.script_args = tokens[index + 1 :]
            break
        name, equals, value = text.partition("=")
        option = normalise(name) if name.startswith("--") else name
        if equals:
            launch.options[option] = value
        elif option in _BOOLEAN_OPTIONS or index + 1 >= len(tokens):
            launch.options[option] = None
            if option in ("-m", "--module") and index + 1 < len(tokens):
                launch.script = tokens[index + 1].text
                launch.script_args = tokens[index + 2 :]
                launch.paths[option] = token.path
                break
        else:
            index += 1
            launch.options[option] = tokens[index].text
        launch.paths[option] = token.path
        index += 1
    return launch


def launches(template: PodTemplate) -> Iterator[Launch]:
    """The distributed-training launchers among a template's app containers."""
    return iter(memoised(template, "launches", lambda: _launches(template)))


def _launches(template: PodTemplate) -> tuple[Launch, ...]:
    found = (parse_launch(c) for c in template.containers if not c.init)
    return tuple(launch for launch in found if launch is not None)


def parse_nnodes(value: str | None) -> tuple[int, int] | None:
    """The ``--nnodes`` of torchrun: ``N`` or ``MIN:MAX``; ``None`` if unreadable."""
    if value is None:
        return None
    low, _, high = value.partition(":")
    try:
        first = int(low)
        second = int(high) if high else first
    except ValueError:
        return None
    return first, second


@dataclass(frozen=True, slots=True)
class DeepSpeedConfig:
    """A DeepSpeed JSON config found in a ConfigMap."""

    data: Mapping[str, Any]
    configmap: Resource
    key: str


def deepspeed_configs(configmap: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """ConfigMap keys whose value is a DeepSpeed JSON config (parsed once)."""
    if configmap.kind != "ConfigMap":
        return iter(())
    found = memoised(
        configmap, "deepspeed_configs", lambda: tuple(_deepspeed_configs(configmap))
    )
    return iter(found)


def _deepspeed_configs(configmap: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key, text in get_map(configmap.raw, "data").items():
        if not isinstance(key, str) or not isinstance(text, str) or "{" not in text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and DEEPSPEED_KEYS & data.keys():
            yield key, data


def mounted_file(
    resource: Resource,
    template: PodTemplate,
    container: Container,
    path: str,
    graph: ObjectGraph,
) -> tuple[Resource, str] | None:
    """The ConfigMap and key behind a file path in a container, when in the input."""
    for _, mount in iter_maps(container.raw, "volumeMounts"):
        mount_path = get_str(mount, "mountPath").rstrip("/")
        if not mount_path or not (
            path == mount_path or path.startswith(mount_path + "/")
        ):
            continue
        rest = path[len(mount_path) :].lstrip("/")
        sub = get_str(mount, "subPath")
        for _, volume in iter_maps(template.spec, "volumes"):
            if get_str(volume, "name") != get_str(mount, "name"):
                continue
            source = get_map(volume, "configMap")
            name = get_str(source, "name")
            if not name:
                return None
            configmap = graph.get("ConfigMap", resource.namespace, name)
            if configmap is None:
                return None
            key = sub or rest
            for _, item in iter_maps(source, "items"):
                if get_str(item, "path") == rest:
                    key = get_str(item, "key")
            return configmap, key
    return None


def deepspeed_config_of(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> tuple[DeepSpeedConfig, Path] | None:
    """The DeepSpeed config a launch passes to its script, if it is in the input."""
    value, where = launch.script_option("--deepspeed", "--deepspeed_config")
    if not value or where is None:
        return None
    found = mounted_file(resource, template, launch.container, value, graph)
    if found is None:
        return None
    configmap, key = found
    for name, data in deepspeed_configs(configmap):
        if name == key:
            return DeepSpeedConfig(data=data, configmap=configmap, key=key), where
    return None

"""Distributed-training containers and the NCCL / c10d variables they set.

A container counts as distributed training when it runs a launcher that
``kubernai.model.training`` recognises (torchrun, ``deepspeed``,
``accelerate launch``), or when it requests an accelerator in a Kubeflow
training kind (PyTorchJob, TFJob, JAXJob, PaddleJob, TrainJob and its
training runtimes), whose pods exist only to train. Containers that run the
nccl-tests benchmarks (``all_reduce_perf`` and the other ``*_perf``
binaries) are diagnostics, not training, and are left out. MPIJob workers
are left out too: ``mpirun`` passes variables to the ranks with ``-x``, not
through the worker container's environment.

Variables are read from ``env`` entries with a literal ``value`` and from
``NAME=value`` words of the command line (``export NCCL_DEBUG=INFO``, or
``NCCL_DEBUG=INFO torchrun ...``), which override the container's ``env``.
``valueFrom`` and ``envFrom`` values are unknown and not read.

PyTorch's renamed variables (``data/torch_nccl_env.json``): pytorch/pytorch
#114077 (torch 2.2.0) moved the ``NCCL_*`` variables that only
ProcessGroupNCCL reads to ``TORCH_NCCL_*``; the old names still work and log
``Environment variable NCCL_ASYNC_ERROR_HANDLING is deprecated; use
TORCH_NCCL_ASYNC_ERROR_HANDLING instead``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.pytorchjob import accelerator_count
from kubernai.model.resource import Path, Resource, get_str, iter_maps
from kubernai.model.servers import command_tokens
from kubernai.model.training import parse_launch
from kubernai.model.workload import Container, PodTemplate, memoised

TRAINING_KINDS = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "JAXJob"),
        ("kubeflow.org", "PaddleJob"),
        ("trainer.kubeflow.org", "TrainJob"),
        ("trainer.kubeflow.org", "TrainingRuntime"),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
    }
)
"""Kinds whose accelerator pods train (Kubeflow training operator and Trainer)."""

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """A variable's literal value and where the manifest sets it."""

    name: str
    value: str
    path: Path
    on_command_line: bool = False


def _literal(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)


def env_settings(container: Container) -> dict[str, EnvSetting]:
    """Variables a container sets to a literal value; computed once per container.

    A ``NAME=value`` word of the command line wins over an ``env`` entry.
    """
    return memoised(container, "env_settings", lambda: _env_settings(container))


def _env_settings(container: Container) -> dict[str, EnvSetting]:
    found: dict[str, EnvSetting] = {}
    for index, item in iter_maps(container.raw, "env"):
        name = get_str(item, "name")
        if not name:
            continue
        value = _literal(item.get("value"))
        if value is None:
            found.pop(name, None)  # valueFrom: unknown
            continue
        path = (*container.path, "env", index, "value")
        found[name] = EnvSetting(name, value, path)
    for token in command_tokens(container):
        match = _ASSIGNMENT.fullmatch(token.text)
        if match is not None:
            name, value = match.groups()
            found[name] = EnvSetting(name, value, token.path, on_command_line=True)
    return found


def _runs_nccl_tests(container: Container) -> bool:
    return any(
        token.text.rsplit("/", 1)[-1].endswith("_perf")
        for token in command_tokens(container)
    )


def is_training_container(resource: Resource, container: Container) -> bool:
    """Whether an app container runs distributed training (see the module doc)."""
    if container.init or _runs_nccl_tests(container):
        return False
    if parse_launch(container) is not None:
        return True
    if (resource.group, resource.kind) not in TRAINING_KINDS:
        return False
    devices = accelerator_count(container)
    return devices is not None and devices[0] > 0


def training_containers(resource: Resource) -> Iterator[tuple[PodTemplate, Container]]:
    """The distributed-training app containers of ``resource`` (found once)."""
    found = memoised(
        resource, "training_containers", lambda: tuple(_training_containers(resource))
    )
    return iter(found)


def _training_containers(
    resource: Resource,
) -> Iterator[tuple[PodTemplate, Container]]:
    for template in resource.templates:
        for container in template.containers:
            if is_training_container(resource, container):
                yield template, container


@cache
def _renames() -> dict[str, Any]:
    text = (
        resources.files("kubernai")
        .joinpath("data/torch_nccl_env.json")
        .read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def renamed_variables() -> dict[str, str]:
    """Old ``NCCL_*`` name → PyTorch's current ``TORCH_NCCL_*`` name."""
    return {item["legacy"]: item["current"] for item in _renames()["renamed"]}


def deprecation_warning(legacy: str) -> str:
    """The warning PyTorch logs when a renamed variable is used."""
    current = renamed_variables()[legacy]
    text: str = _renames()["warning"]
    return text.format(legacy=legacy, current=current)

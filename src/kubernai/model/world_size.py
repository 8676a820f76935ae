"""The data-parallel world size a training manifest implies, when it is certain.

DeepSpeed checks its batch keys against the data-parallel size
(``deepspeed/runtime/config.py``: ``dist.get_world_size()``, or
``mpu.get_data_parallel_world_size()`` when a model-parallel unit is passed,
or the world size over ``sequence_parallel_size``). The processes come from
the launcher in the container:

- torchrun (``torch/distributed/run.py``): ``--nnodes`` (default ``1:1``, or
  ``MIN:MAX`` for an elastic job) times ``--nproc-per-node`` (default ``1``;
  ``auto`` and ``gpu`` count the devices the container sees). Each option may
  come from ``PET_<OPTION>``; the command line wins. The Kubeflow training
  operator appends ``PET_NNODES`` (the sum of the replicas, or
  ``elasticPolicy`` ``min:max``) and ``PET_NPROC_PER_NODE`` (``nprocPerNode``,
  ``auto`` by default) after the container's own environment
  (``model/pytorchjob.py``); the Trainer v2 torch plugin sets them from
  ``numNodes`` and ``numProcPerNode`` (``auto`` by default;
  ``pkg/runtime/framework/plugins/torch/torch.go``).
- the ``deepspeed`` launcher (``deepspeed/launcher/runner.py``): without a
  hostfile it runs on the local node only, ``--num_gpus`` processes or one per
  visible device; with a hostfile, ``--num_nodes`` hosts of ``--num_gpus``.
- ``accelerate launch``: ``--num_processes`` is the total over all machines.

Tensor, pipeline and context parallelism divide the processes: Megatron's
``--tensor-model-parallel-size``, ``--pipeline-model-parallel-size``,
``--context-parallel-size`` and Megatron-DeepSpeed's
``--ds-sequence-parallel-size``. Any other ``*parallel*-size`` option of the
script with a value other than 1 makes the size unknown.

Where a value depends on something the manifest does not say (a variable, a
hostfile, a runtime outside the input, ``CUDA_VISIBLE_DEVICES``), the size is
unknown: the functions return ``None`` rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    accelerator_count,
    find_runtime,
    injected_env,
    is_pytorchjob,
    is_trainjob,
    runtime_ref,
)
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource, get_map, get_path, get_str, iter_maps
from kubernai.model.training import (
    ACCELERATE,
    DEEPSPEED,
    TORCHRUN,
    Launch,
    normalise,
    parse_nnodes,
)
from kubernai.model.workload import Container, PodTemplate, memoised

_DEFAULTS_HOLD = frozenset(
    {
        ("", "Pod"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("jobset.x-k8s.io", "JobSet"),
        ("batch.volcano.sh", "Job"),
        ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
    }
)
"""Kinds whose controllers add no ``PET_*`` variables: torchrun's defaults hold."""

_DIVISORS = {
    "--tensor-model-parallel-size": "tensor",
    "--pipeline-model-parallel-size": "pipeline",
    "--context-parallel-size": "context",
    "--ds-sequence-parallel-size": "sequence",
}
_OTHER_PARALLEL = frozenset(
    {"--tp", "--pp", "--cp", "--sp", "--tp-size", "--pp-size", "--sp-size"}
)
_DEVICE_MASKS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")


@dataclass(frozen=True, slots=True)
class WorldSize:
    """How many processes a launch starts, and how many of them hold the data.

    ``nodes`` is ``(min, max)``; they differ for an elastic job. ``per_node``
    is ``None`` when the node count is known but the processes per node are
    not. ``divisor`` is the model-parallel product (tensor x pipeline x
    context x sequence) that the data-parallel size is divided by.
    """

    nodes: tuple[int, int]
    per_node: int | None
    divisor: int = 1
    how: str = ""
    """How the manifest sets it, for messages."""

    @property
    def elastic(self) -> bool:
        """Whether the node count may change while the job runs."""
        return self.nodes[0] != self.nodes[1]

    def processes(self, nodes: int) -> int | None:
        """Processes at ``nodes`` nodes, ``None`` when unknown."""
        return None if self.per_node is None else nodes * self.per_node

    def data_parallel(self, nodes: int) -> int | None:
        """DeepSpeed's world size at ``nodes`` nodes, ``None`` when unknown."""
        total = self.processes(nodes)
        if total is None or total % self.divisor:
            return None
        return total // self.divisor

    @property
    def fixed(self) -> int | None:
        """The data-parallel size of a job that is not elastic, else ``None``."""
        return None if self.elastic else self.data_parallel(self.nodes[0])

    def describe(self, nodes: int | None = None) -> str:
        """``16 (torchrun --nnodes 2 x --nproc-per-node 8)`` for messages."""
        size = self.data_parallel(self.nodes[0] if nodes is None else nodes)
        return f"{size} ({self.how})" if self.how else str(size)


def launch_world_size(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> WorldSize | None:
    """The world size a launch implies, ``None`` when not certain.

    Computed once per container.
    """
    return memoised(
        launch.container,
        "launch_world_size",
        lambda: _launch_world_size(resource, template, launch, graph),
    )


def deepspeed_world_size(
    world: WorldSize | None, config: Mapping[str, Any]
) -> WorldSize | None:
    """``world`` as DeepSpeed counts it under ``config``, ``None`` when not certain.

    ``sequence_parallel_size`` divides the world; a ``tensor_parallel``
    section with ``autotp_size`` above 1, or a ``pipeline`` section, leaves the
    data-parallel size to code that the manifest does not show.
    """
    if world is None:
        return None
    if "pipeline" in config:
        return None
    autotp = get_path(config, "tensor_parallel", "autotp_size")
    if autotp is not None and _int(autotp) != 1:
        return None
    sequence = config.get("sequence_parallel_size")
    if sequence is None:
        return world
    size = _int(sequence)
    if size is None or size < 1:
        return None
    if size == 1:
        return world
    how = f"{world.how}, over sequence_parallel_size {size}"
    return replace(world, divisor=world.divisor * size, how=how)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _launch_world_size(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> WorldSize | None:
    if launch.kind == TORCHRUN:
        world = _torchrun(resource, template, launch, graph)
    elif launch.kind == DEEPSPEED:
        world = _deepspeed(resource, launch)
    elif launch.kind == ACCELERATE:
        world = _accelerate(launch)
    else:
        return None
    if world is None:
        return None
    return _model_parallel(world, launch)


# -- torchrun --------------------------------------------------------------------


def _torchrun_value(
    resource: Resource,
    template: PodTemplate,
    launch: Launch,
    graph: ObjectGraph,
    option: str,
    default: str,
) -> tuple[str, str, str] | None:
    """An option's value, how it is set and by whom; ``None`` when unknown."""
    key = normalise(option)
    if key in launch.options:
        value = launch.options[key]
        return (value, f"{option} {value}", "") if value is not None else None
    variable = "PET_" + key[2:].upper().replace("-", "_")
    if is_pytorchjob(resource):
        injected = injected_env(resource, template.role).get(variable)
        if injected is None or injected.value is None:
            return None
        return injected.value, f"{variable}={injected.value}", "the training operator"
    if is_trainjob(resource):
        return _trainjob_value(resource, graph, variable)
    if (resource.group, resource.kind) not in _DEFAULTS_HOLD:
        return None
    container = launch.container
    if "envFrom" in container.raw:
        return None
    for _, item in iter_maps(container.raw, "env"):
        if get_str(item, "name") == variable:
            value = launch.env.get(variable)
            return (value, f"{variable}={value}", "") if value is not None else None
    return default, f"{option} {default} (the default)", ""


def _trainjob_value(
    resource: Resource, graph: ObjectGraph, variable: str
) -> tuple[str, str, str] | None:
    trainer = get_map(resource.raw, "spec", "trainer")
    runtime = None
    ref = runtime_ref(resource)
    if ref is not None:
        runtime = find_runtime(resource, ref, graph)
    policy = get_map(runtime.raw, "spec", "mlPolicy") if runtime is not None else {}
    if variable == "PET_NNODES":
        for source, where in (
            (trainer, "spec.trainer.numNodes"),
            (policy, "the runtime's mlPolicy.numNodes"),
        ):
            value = source.get("numNodes")
            if value is not None:
                count = parse_count(value)
                if count is None:
                    return None
                return str(count), f"PET_NNODES={count}", where
        return None
    if variable == "PET_NPROC_PER_NODE":
        for source, where in (
            (trainer, "spec.trainer.numProcPerNode"),
            (get_map(policy, "torch"), "the runtime's mlPolicy.torch.numProcPerNode"),
        ):
            value = source.get("numProcPerNode")
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, str | int):
                    return None
                return str(value), f"PET_NPROC_PER_NODE={value}", where
        return "auto", "PET_NPROC_PER_NODE=auto", "the Trainer's default"
    return None


def _devices(container: Container) -> int | None:
    """The accelerators a process sees in the container, ``None`` when unknown."""
    for _, item in iter_maps(container.raw, "env"):
        if get_str(item, "name") in _DEVICE_MASKS:
            return None
    found = accelerator_count(container)
    if found is None or found[0] < 1:
        return None
    return found[0]


def _per_node(text: str, container: Container) -> int | None:
    value = _int(text)
    if value is not None:
        return value if value > 0 else None
    if text in ("auto", "gpu"):
        return _devices(container)
    return None


def _torchrun(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> WorldSize | None:
    nnodes = _torchrun_value(resource, template, launch, graph, "--nnodes", "1")
    if nnodes is None:
        return None
    nodes = parse_nnodes(nnodes[0])
    if nodes is None or not 0 < nodes[0] <= nodes[1]:
        return None
    nproc = _torchrun_value(resource, template, launch, graph, "--nproc-per-node", "1")
    per_node = None if nproc is None else _per_node(nproc[0], launch.container)
    nproc_how = "" if nproc is None else nproc[1]
    if per_node is not None and nproc is not None and _int(nproc[0]) is None:
        nproc_how += f" ({per_node} device{'s' if per_node != 1 else ''})"
    parts = [(nnodes[1], nnodes[2])]
    if per_node is not None and nproc is not None:
        parts.append((nproc_how, nproc[2]))
    origins = {origin for _, origin in parts}
    if len(origins) == 1:
        how = " x ".join(text for text, _ in parts)
        how += f" from {parts[0][1]}" if parts[0][1] else ""
    else:
        how = " x ".join(
            f"{text} (from {origin})" if origin else text for text, origin in parts
        )
    how = f"torchrun {how}"
    return WorldSize(nodes=nodes, per_node=per_node, how=how)


# -- deepspeed and accelerate ----------------------------------------------------------


def _option_int(launch: Launch, *names: str) -> int | None:
    """The first of ``names`` given, as an integer; -1 when none is given."""
    for name in names:
        if launch.has(name):
            value = launch.get(name)
            return _int(value) if value is not None else None
    return -1


def _deepspeed(resource: Resource, launch: Launch) -> WorldSize | None:
    options = launch.options
    if any(o in options for o in ("-i", "-e", "--include", "--exclude")):
        return None
    if "--elastic-training" in options:
        return None
    nodes = _option_int(launch, "--num_nodes")
    gpus = _option_int(launch, "--num_gpus", "--num_accelerators")
    if nodes is None or gpus is None:
        return None
    if nodes > 0 and gpus > 0:
        how = f"deepspeed --num_nodes {nodes} x --num_gpus {gpus}"
        return WorldSize(nodes=(nodes, nodes), per_node=gpus, how=how)
    hostfile = "-H" in options or "--hostfile" in options
    if (
        hostfile
        or nodes > 1
        or (resource.group, resource.kind) == ("kubeflow.org", "MPIJob")
    ):
        return None
    if gpus > 0:
        return WorldSize(
            nodes=(1, 1), per_node=gpus, how=f"deepspeed --num_gpus {gpus}"
        )
    devices = _devices(launch.container)
    if devices is None:
        return None
    how = f"deepspeed on one node with {devices} device{'s' if devices != 1 else ''}"
    return WorldSize(nodes=(1, 1), per_node=devices, how=how)


def _accelerate(launch: Launch) -> WorldSize | None:
    total = _option_int(launch, "--num_processes")
    machines = _option_int(launch, "--num_machines")
    if total is None or machines is None or total < 1:
        return None
    machines = max(machines, 1)
    if total % machines:
        return None
    how = f"accelerate launch --num_processes {total}"
    return WorldSize(nodes=(machines, machines), per_node=total // machines, how=how)


# -- model parallelism -------------------------------------------------------------


def _model_parallel(world: WorldSize, launch: Launch) -> WorldSize | None:
    divisor = 1
    parts = []
    args = launch.script_args
    for index, token in enumerate(args):
        name, equals, value = token.text.partition("=")
        if not name.startswith("--"):
            continue
        key = normalise(name)
        if not equals:
            following = args[index + 1].text if index + 1 < len(args) else ""
            value = "" if following.startswith("-") else following
        known = key in _DIVISORS
        parallel_size = "parallel" in key and key.endswith(("-size", "-degree"))
        if not (known or parallel_size or key in _OTHER_PARALLEL):
            continue
        size = _int(value)
        if size == 1:
            continue
        if not known or size is None or size < 1:
            return None
        divisor *= size
        parts.append(f"{_DIVISORS[key]} parallel {size}")
    if divisor == 1:
        return world
    how = f"{world.how}, over {' x '.join(parts)}"
    return replace(world, divisor=divisor, how=how)

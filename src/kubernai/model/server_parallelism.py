"""How many accelerators an inference server uses, and how many it is given.

Sources:
- vLLM: ``ParallelConfig.world_size`` is tensor × pipeline parallel size
  (vllm-project/vllm ``vllm/config/parallel.py``); workers span nodes only
  through Ray (``--distributed-executor-backend ray``, a Ray cluster started
  with ``ray start``, the LeaderWorkerSet ``multi-node-serving.sh`` script) or
  the multiprocessing backend with ``--nnodes``.
- TGI: ``find_num_shards`` in huggingface/text-generation-inference
  ``launcher/src/main.rs``: ``--num-shard``/``NUM_SHARD`` if given, else every
  visible GPU unless ``--sharded false``.
- SGLang: ``--tensor-parallel-size``/``--tp-size`` and
  ``--pipeline-parallel-size``/``--pp-size`` (sglang ``server_args.py``).
- GPUs a container sees: the device plugin exposes exactly the devices in
  ``resources.limits`` (NVIDIA/k8s-device-plugin); MIG slices, shared
  (time-sliced) GPUs, Intel GPUs (whose plugin can share a device) and Neuron
  devices are not counted, because the number a framework sees can differ
  from the number requested.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.server_cache import container_tokens
from kubernai.model.servers import (
    SGLANG,
    VLLM,
    ServerArgs,
    Token,
)
from kubernai.model.workload import Container, PodTemplate, env_names

# Device-plugin resources whose count is the number of devices the framework
# sees, in the order they are looked up.
_DEVICE_RESOURCES = (
    "nvidia.com/gpu",
    "amd.com/gpu",
    "google.com/tpu",
    "habana.ai/gaudi",
)

TP_FLAGS = {
    VLLM: ("--tensor-parallel-size",),
    SGLANG: ("--tensor-parallel-size", "--tp-size", "--tp"),
}
PP_FLAGS = {
    VLLM: ("--pipeline-parallel-size",),
    SGLANG: ("--pipeline-parallel-size", "--pp-size"),
}


@dataclass(frozen=True, slots=True)
class DeviceLimit:
    """The accelerator devices a container is given."""

    resource: str
    count: int
    path: Path


def device_limit(container: Container) -> DeviceLimit | None:
    """The accelerator count of a container; ``None`` when none or not countable.

    Extended resources need a limit (requests default to it), so the limit is
    read, else the request.
    """
    for section, values in (
        ("limits", container.limits),
        ("requests", container.requests),
    ):
        for name in _DEVICE_RESOURCES:
            if name in values:
                count = parse_count(values[name])
                if count is None:
                    return None
                return DeviceLimit(name, count, container.resource_path(section, name))
    return None


def int_flag(server: ServerArgs, *names: str) -> int | None:
    """The first of ``names`` that is given, as an integer; ``None`` otherwise."""
    for name in names:
        if server.has(name):
            return _int(server.get(name))
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class WorldSize:
    """Tensor × pipeline parallel ranks of one server instance."""

    tensor: int
    pipeline: int
    path: Path
    """Where the larger factor was written (for the finding's line)."""

    @property
    def ranks(self) -> int:
        """Processes, one per device."""
        return self.tensor * self.pipeline

    def describe(self) -> str:
        """``tensor-parallel-size 4 × pipeline-parallel-size 2``."""
        parts = [f"tensor-parallel-size {self.tensor}"]
        if self.pipeline != 1:
            parts.append(f"pipeline-parallel-size {self.pipeline}")
        return " × ".join(parts)


def world_size(server: ServerArgs) -> WorldSize | None:
    """vLLM/SGLang TP × PP (each defaults to 1); ``None`` if a value is unreadable."""
    tp_names, pp_names = TP_FLAGS.get(server.kind), PP_FLAGS.get(server.kind)
    if tp_names is None or pp_names is None:
        return None
    tensor, pipeline = 1, 1
    if any(server.has(n) for n in tp_names):
        read = int_flag(server, *tp_names)
        if read is None or read < 1:
            return None
        tensor = read
    if any(server.has(n) for n in pp_names):
        read = int_flag(server, *pp_names)
        if read is None or read < 1:
            return None
        pipeline = read
    names = tp_names if tensor >= pipeline else pp_names
    return WorldSize(tensor, pipeline, server.path_of(*names))


def tgi_shards(server: ServerArgs, devices: DeviceLimit | None) -> int | None:
    """How many shards TGI's launcher starts; ``None`` when unknown."""
    if server.has("--num-shard"):
        return int_flag(server, "--num-shard")
    sharded = (server.get("--sharded") or "").strip().lower()
    if server.has("--sharded") and sharded not in ("true", "false"):
        return None
    if sharded == "false":
        return 1
    return devices.count if devices is not None else None


_RAY_MARKERS = ("multi-node-serving", "--ray-address", "--ray-cluster-size")


def multi_node_reason(
    resource: Resource, template: PodTemplate, server: ServerArgs
) -> str:
    """Why the server's ranks may run on other pods too, or ``""``.

    Ray clusters (KubeRay kinds, ``ray start``, LeaderWorkerSet groups of
    more than one pod, ``--distributed-executor-backend ray``) and vLLM's
    multi-node multiprocessing (``--nnodes``) place workers outside this pod.
    """
    if resource.group == "ray.io":
        return f"runs in a {resource.kind}"
    if resource.kind == "LeaderWorkerSet":
        size = get_path(resource.raw, "spec", "leaderWorkerTemplate", "size")
        if size is not None and parse_count(size) != 1:
            return f"LeaderWorkerSet group size {size}"
    if resource.kind == "LLMInferenceService" and get_path(
        resource.raw, "spec", "worker"
    ):
        return "LLMInferenceService with worker pods"
    for flag in ("--distributed-executor-backend", "--data-parallel-backend"):
        backend = (server.get(flag) or "").strip().lower()
        if backend and backend not in ("mp", "uni"):
            return f"{flag} {backend}"
    nnodes = server.get("--nnodes")
    if nnodes is not None and nnodes.strip() != "1":
        return f"--nnodes {nnodes}"
    if server.has("--headless"):
        return "--headless"
    if "RAY_ADDRESS" in env_names(server.container):
        return "RAY_ADDRESS is set"
    if _runs_ray(container_tokens(server.container)):
        return "the command joins a Ray cluster"
    return ""


def _runs_ray(tokens: Iterable[Token]) -> bool:
    previous = ""
    for token in tokens:
        text = token.text
        if previous.rsplit("/", 1)[-1] == "ray" and text == "start":
            return True
        if any(marker in text for marker in _RAY_MARKERS):
            return True
        previous = text
    return False


def has_env_from(container: Container) -> bool:
    """Whether ``envFrom`` may add variables that the manifest does not show."""
    return bool(get_list(container.raw, "envFrom"))


def shm_provided(template: PodTemplate, container: Container) -> str:
    """How the container gets a large ``/dev/shm``, or ``""``.

    A volume mounted at ``/dev/shm`` replaces the runtime's 64 MiB tmpfs;
    ``hostIPC: true`` shares the node's.
    """
    if template.spec.get("hostIPC") is True:
        return "hostIPC"
    for index, mount in iter_maps(container.raw, "volumeMounts"):
        if get_str(mount, "mountPath").rstrip("/") == "/dev/shm":
            return f"volumeMounts[{index}]"
    return ""

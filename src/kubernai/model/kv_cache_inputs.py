"""What vLLM's KV-cache sizing depends on, as a manifest writes it.

Two things decide whether a vLLM server fits its GPUs, and both are read here
without any arithmetic (that is ``kubernai.calc.kv_cache``'s job):

- the engine arguments (``vllm/engine/arg_utils.py``): the model from
  ``vllm serve MODEL`` or ``--model``, ``--max-model-len``,
  ``-tp/--tensor-parallel-size``, ``-pp/--pipeline-parallel-size``, ``--dtype``,
  ``--kv-cache-dtype``, ``--gpu-memory-utilization``, ``--max-num-seqs``,
  ``--max-num-batched-tokens``, ``--block-size`` and ``--kv-cache-memory-bytes``.
  Integers accept vLLM's ``human_readable_int`` suffixes (``32k`` = 32,000,
  ``32K`` = 32,768). A server that also sets a flag which changes the
  arithmetic in a way kubernai does not model (``--quantization``, a
  bitsandbytes or GGUF ``--load-format``, ``--cpu-offload-gb``,
  ``--hf-overrides``, ``--num-gpu-blocks-override``, RoPE overrides, expert
  parallelism across data-parallel ranks) gives no inputs at all;
- the GPU the pod lands on: a ``nvidia.com/gpu.product`` (GPU Feature
  Discovery) or ``cloud.google.com/gke-accelerator`` node selector, or required
  node affinity on them, KServe's ``serving.kserve.io/gke-accelerator``
  annotation, else the ``cluster.gpu_product`` of ``.kubernai.yaml``. GKE
  accelerator types are mapped to GFD product strings by
  ``data/gke_accelerator_gpus.json``. GFD's ``-SHARED`` suffix is dropped (the
  device is the same); MIG products are kept as written, and no catalog GPU
  matches them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.facts import ClusterFacts
from kubernai.model.gpu import is_nvidia_gpu
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource, get_list, get_map, get_str
from kubernai.model.servers import VLLM, ServerArgs, servers
from kubernai.model.workload import Container, PodTemplate

GFD_PRODUCT = "nvidia.com/gpu.product"
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
KSERVE_GKE_ANNOTATION = "serving.kserve.io/gke-accelerator"
_SHARED_SUFFIX = "-SHARED"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"

_BLOCKING_FLAGS = (
    "--quantization",
    "--cpu-offload-gb",
    "--hf-overrides",
    "--num-gpu-blocks-override",
    "--rope-scaling",
    "--rope-theta",
)
"""Flags that change weights, the cache or the context in ways not modelled."""
_PLAIN_LOAD_FORMATS = frozenset(
    {"auto", "pt", "safetensors", "npcache", "dummy", "fastsafetensors"}
)
_SHORT_FLAG = re.compile(r"-[A-Za-z][A-Za-z0-9-]*")
_HUMAN_INT = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kKmMgGtT]?)")
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True, slots=True)
class GpuChoice:
    """The GPU products a pod template can land on, and what says so.

    ``products`` are GPU Feature Discovery ``nvidia.com/gpu.product`` strings;
    empty when the template names GPUs that kubernai cannot map exactly.
    """

    products: tuple[str, ...]
    source: str
    path: Path
    configured: bool = False
    """True when the GPU comes from ``.kubernai.yaml`` rather than the object."""


@dataclass(frozen=True, slots=True)
class EngineArgs:
    """vLLM engine arguments that size the weights and the KV cache."""

    server: ServerArgs
    model: str
    max_model_len: int | None
    """``None`` when not given: the model's own context length is used."""
    max_model_len_auto: bool
    """``--max-model-len auto`` or ``-1``: vLLM fits the length to memory."""
    tensor_parallel_size: int
    pipeline_parallel_size: int
    dtype: str
    kv_cache_dtype: str
    gpu_memory_utilization: float | None
    block_size: int | None
    max_num_seqs: int | None
    max_num_batched_tokens: int | None
    kv_cache_memory_bytes: int | None
    keeps_full_attention: bool
    """``--disable-sliding-window`` or ``--disable-hybrid-kv-cache-manager``."""
    data_parallel: bool
    """``--data-parallel-size`` is given."""


@dataclass(frozen=True, slots=True)
class KvCacheInputs:
    """One vLLM server with known arguments, its GPU count and its GPU."""

    args: EngineArgs
    gpu: GpuChoice
    gpu_count: int
    """GPUs the server's container requests."""


def human_readable_int(text: str) -> int | None:
    """VLLM's ``human_readable_int``: ``25.6k`` = 25,600, ``16K`` = 16,384.

    Lower-case suffixes are decimal and allow decimals; upper-case ones are
    binary and need a whole number. ``None`` for anything else.
    """
    match = _HUMAN_INT.fullmatch(text.strip())
    if match is None:
        return None
    number, suffix = match.groups()
    if suffix in _DECIMAL:
        return int(float(number) * _DECIMAL[suffix])
    if "." in number:
        return None
    return int(number) * _BINARY.get(suffix, 1)


def _positive_int(text: str | None) -> int | None:
    if text is None:
        return None
    value = human_readable_int(text)
    return value if value is not None and value > 0 else None


def _flag_int(server: ServerArgs, flag: str) -> tuple[bool, int | None]:
    """``(given, value)``; ``(True, None)`` for a value that is no positive int."""
    if not server.has(flag):
        return False, None
    return True, _positive_int(server.get(flag))


def _utilization(server: ServerArgs) -> tuple[bool, float | None]:
    if not server.has("--gpu-memory-utilization"):
        return True, None
    text = server.get("--gpu-memory-utilization")
    try:
        value = float(text) if text is not None else -1.0
    except ValueError:
        return False, None
    if not 0 < value <= 1:
        return False, None
    return True, value


def engine_args(server: ServerArgs) -> EngineArgs | None:
    """The arguments of a vLLM server, or ``None`` when they cannot be modelled.

    ``None`` when the model is not named, a numeric flag has a value vLLM
    would not accept (or a placeholder), or a flag from the module docstring
    changes the arithmetic.
    """
    if server.kind != VLLM:
        return None
    model = server.model
    if not model or model.startswith("-"):
        return None
    if server.has(*_BLOCKING_FLAGS) or "-q" in server.positionals:
        return None
    if any(_SHORT_FLAG.fullmatch(v or "") for v in server.flags.values()):
        # A value-less flag followed by a short option (``--enforce-eager -tp
        # 4``): the parser took the option as the flag's value and lost it.
        return None
    load_format = server.get("--load-format")
    if server.has("--load-format") and (load_format or "") not in _PLAIN_LOAD_FORMATS:
        return None
    data_parallel = server.has("--data-parallel-size") or "-dp" in server.positionals
    if data_parallel and server.has("--enable-expert-parallel"):
        return None  # experts are split over DP x TP ranks, not TP alone
    auto = False
    max_len: int | None = None
    if server.has("--max-model-len"):
        text = (server.get("--max-model-len") or "").strip()
        if text in ("auto", "-1"):
            auto = True
        else:
            max_len = _positive_int(text)
            if max_len is None:
                return None
    values: dict[str, int | None] = {}
    for flag in (
        "--tensor-parallel-size",
        "--pipeline-parallel-size",
        "--block-size",
        "--max-num-seqs",
        "--max-num-batched-tokens",
        "--kv-cache-memory-bytes",
    ):
        given, value = _flag_int(server, flag)
        if given and value is None:
            return None
        values[flag] = value
    known, utilization = _utilization(server)
    if not known:
        return None
    dtype = (server.get("--dtype") or "auto").strip().lower()
    kv_dtype = (server.get("--kv-cache-dtype") or "auto").strip().lower()
    return EngineArgs(
        server=server,
        model=model,
        max_model_len=max_len,
        max_model_len_auto=auto,
        tensor_parallel_size=values["--tensor-parallel-size"] or 1,
        pipeline_parallel_size=values["--pipeline-parallel-size"] or 1,
        dtype=dtype,
        kv_cache_dtype=kv_dtype,
        gpu_memory_utilization=utilization,
        block_size=values["--block-size"],
        max_num_seqs=values["--max-num-seqs"],
        max_num_batched_tokens=values["--max-num-batched-tokens"],
        kv_cache_memory_bytes=values["--kv-cache-memory-bytes"],
        keeps_full_attention=server.has(
            "--disable-sliding-window", "--disable-hybrid-kv-cache-manager"
        ),
        data_parallel=data_parallel,
    )


def gpu_count(container: Container) -> int:
    """Whole NVIDIA GPUs a container requests; 0 for none, MIG or unreadable."""
    count = 0
    for name in container.names:
        if not is_nvidia_gpu(name):
            continue
        if name.startswith("nvidia.com/mig-"):
            return 0
        value = container.limits.get(name, container.requests.get(name))
        found = parse_count(value)
        if found is None:
            return 0
        count = max(count, found)
    return count


@cache
def _gke_products() -> dict[str, str]:
    text = (
        resources.files("kubernai")
        .joinpath("data/gke_accelerator_gpus.json")
        .read_text("utf-8")
    )
    return {item["value"]: item["product"] for item in json.loads(text)["accelerators"]}


@cache
def _context_lengths() -> dict[str, int | None]:
    text = (
        resources.files("kubernai")
        .joinpath("data/model_context_lengths.json")
        .read_text("utf-8")
    )
    return {
        item["id"].lower(): item["max_position_embeddings"]
        for item in json.loads(text)["models"]
    }


def context_length_override(model: str) -> tuple[bool, int | None]:
    """``(listed, max_position_embeddings)`` for model ids the catalog gets wrong.

    ``(True, None)`` when the id's context length is not confirmed.
    """
    key = model.strip().lower()
    table = _context_lengths()
    if key in table:
        return True, table[key]
    return False, None


def _product(key: str, value: str) -> str:
    """The GFD product a label value stands for, or ``""`` when not exact."""
    if key == GKE_ACCELERATOR:
        return _gke_products().get(value, "")
    return value.removesuffix(_SHARED_SUFFIX)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _selector_choice(spec: Mapping[str, Any], base: Path) -> GpuChoice | None:
    selector = get_map(spec, "nodeSelector")
    for key in (GFD_PRODUCT, GKE_ACCELERATOR):
        value = _text(selector.get(key))
        if value is None:
            continue
        product = _product(key, value)
        return GpuChoice(
            (product,) if product else (),
            f"nodeSelector {key}={value}",
            (*base, "nodeSelector", key),
        )
    return None


def _affinity_choice(spec: Mapping[str, Any], base: Path) -> GpuChoice | None:
    """Products allowed by required node affinity; ``None`` if it allows any."""
    terms_path: Path = (*base, "affinity", "nodeAffinity", _REQUIRED)
    terms = get_list(spec, "affinity", "nodeAffinity", _REQUIRED, "nodeSelectorTerms")
    products: list[str] = []
    shown: list[str] = []
    path: Path = ()
    for term_index, term in enumerate(terms):
        found = False
        for index, expression in enumerate(get_list(term, "matchExpressions")):
            key = get_str(expression, "key")
            if key not in (GFD_PRODUCT, GKE_ACCELERATOR):
                continue
            if get_str(expression, "operator") != "In":
                continue
            values = [v for v in get_list(expression, "values") if isinstance(v, str)]
            if not values:
                continue
            found = True
            for value in values:
                products.append(_product(key, value))
                shown.append(f"{key}={value}")
            if not path:
                path = (
                    *terms_path,
                    "nodeSelectorTerms",
                    term_index,
                    "matchExpressions",
                    index,
                    "values",
                )
            break
        if not found:
            return None  # this term lets the pod land on any GPU
    if not products:
        return None
    exact = () if "" in products else tuple(dict.fromkeys(products))
    return GpuChoice(exact, "required node affinity " + ", ".join(shown), path)


def gpu_choice(
    resource: Resource, template: PodTemplate, facts: ClusterFacts
) -> GpuChoice | None:
    """The GPU a template's pods run on; ``None`` when nothing says.

    Node labels on the object win over the configured ``cluster.gpu_product``.
    When both a node selector and node affinity name products, the pod needs
    both, so only products they share remain.
    """
    base = template.path
    selector = _selector_choice(template.spec, base)
    if selector is None and resource.kind == "InferenceService":
        value = _text(resource.annotations.get(KSERVE_GKE_ANNOTATION))
        if value is not None:
            product = _product(GKE_ACCELERATOR, value)
            selector = GpuChoice(
                (product,) if product else (),
                f"annotation {KSERVE_GKE_ANNOTATION}={value}",
                ("metadata", "annotations", KSERVE_GKE_ANNOTATION),
            )
    affinity = _affinity_choice(template.spec, base)
    if selector is not None and affinity is not None:
        shared = tuple(p for p in selector.products if p in affinity.products)
        return GpuChoice(shared, selector.source, selector.path)
    found = selector or affinity
    if found is not None:
        return found
    if facts.gpu_product:
        return GpuChoice(
            (facts.gpu_product.removesuffix(_SHARED_SUFFIX),),
            "cluster.gpu_product in .kubernai.yaml",
            (),
            configured=True,
        )
    return None


def kv_cache_inputs(resource: Resource, facts: ClusterFacts) -> Iterator[KvCacheInputs]:
    """The vLLM servers of ``resource`` whose arguments and GPU are both known."""
    for template in resource.templates:
        choice: GpuChoice | None = None
        for server in servers(template):
            if server.kind != VLLM:
                continue
            count = gpu_count(server.container)
            if count < 1:
                continue
            args = engine_args(server)
            if args is None:
                continue
            if choice is None:
                choice = gpu_choice(resource, template, facts)
            if choice is None or not choice.products:
                break
            yield KvCacheInputs(args=args, gpu=choice, gpu_count=count)

"""TRN060 ddp-model-states-exceed-gpu-memory."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.catalog import Gpu, find_gpu, find_model
from kubernai.calc.precision import Precision
from kubernai.calc.train_memory import (
    ModelSizes,
    Strategy,
    model_sizes,
    strategy_memory,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.kv_cache_inputs import GpuChoice, gpu_choice, gpu_count
from kubernai.model.resource import Resource
from kubernai.model.sharding import ReplicatedRun, replicated_run
from kubernai.model.training import Launch, launches
from kubernai.model.workload import PodTemplate
from kubernai.model.world_size import launch_world_size
from kubernai.rules.base import Finding, Rule, Severity

MIB = 2**20


def _gib(count: int) -> str:
    return f"{count / 2**30:,.1f} GiB"


class DdpModelStatesExceedGpuMemory(Rule):
    """A DDP replica's model states alone are larger than the GPU.

    ## Mechanism
    `DistributedDataParallel` keeps a full copy of the model on every GPU:
    the parameters, their gradients and the optimizer's states, then
    all-reduces the gradients after backward. With AdamW that is at least
    8 bytes per parameter when the weights are loaded in 16 bits (2 for the
    weight, 2 for its gradient, 2 x 2 for the momentum and variance, which
    `torch.optim.AdamW` keeps in the parameter's dtype) and 16 bytes per
    parameter when they are fp32 (the usual mixed-precision setup). Adding
    GPUs does not help: every replica is whole. When these model states are
    already larger than the GPU, every rank stops with `CUDA out of memory.
    Tried to allocate ...` (`torch.OutOfMemoryError`) by the first optimizer
    step at the latest, whatever the batch size: activations, DDP's gradient
    buckets, the CUDA context and allocator fragmentation come on top.

    kubernai checks this only when all of it is certain: a Hugging Face
    Trainer script (`--per_device_train_batch_size`) launched by torchrun or
    `accelerate launch --multi_gpu`, without `--fsdp`, `--deepspeed`,
    `ACCELERATE_USE_FSDP` or model parallelism; a catalog model in
    `--model_name_or_path`; full training (no LoRA, PEFT, quantization or
    freezing) with AdamW (`--optim` unset or a plain AdamW); and a node
    selector, required node affinity or `cluster.gpu_product` naming the GPU
    (the largest, when several may be picked). The weights count as 16-bit
    unless `--torch_dtype float32` says otherwise, and the figure is compared
    with the GPU's whole memory, so the check errs on the side of silence.
    Sharding the states instead (FSDP `FULL_SHARD`, DeepSpeed ZeRO-3) divides
    them by the number of GPUs.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-L4
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "4", "run_clm.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-8B",
                        "--per_device_train_batch_size", "1", "--bf16",
                        "--output_dir", "/out"]
              resources:
                limits:
                  nvidia.com/gpu: 4
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-L4
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "4", "run_clm.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-8B",
                        "--per_device_train_batch_size", "1", "--bf16",
                        "--fsdp", "full_shard auto_wrap",
                        "--output_dir", "/out"]
              resources:
                limits:
                  nvidia.com/gpu: 4
    ```

    ## References
    - https://docs.pytorch.org/docs/stable/notes/ddp.html
    - torch/distributed/fsdp/api.py (`ShardingStrategy`: `NO_SHARD` is
      "similar to PyTorch's DistributedDataParallel")
    - transformers/training_args.py (`--fsdp`, `--optim`, `--torch_dtype`)
    - Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
      Parameter Models", SC'20, https://arxiv.org/abs/1910.02054 (16 bytes per
      parameter for mixed-precision Adam)
    - https://huggingface.co/docs/transformers/main/en/fsdp
    """

    code = "TRN060"
    name = "ddp-model-states-exceed-gpu-memory"
    severity = Severity.ERROR
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            choice: GpuChoice | None = None
            for launch in launches(template):
                run = replicated_run(launch)
                if run is None or gpu_count(launch.container) < 1:
                    continue
                model = find_model(run.model)
                if model is None or model.params < 1:
                    continue
                if choice is None:
                    choice = gpu_choice(resource, template, graph.facts)
                gpu = _largest_gpu(choice)
                if gpu is None or choice is None:
                    break
                message = _message(resource, template, graph, run, gpu, choice)
                if message is not None:
                    yield self.finding(resource, message, path=run.model_path)


def _largest_gpu(choice: GpuChoice | None) -> Gpu | None:
    """The catalog GPU with the most memory among those the pods may land on."""
    if choice is None or not choice.products:
        return None
    found = [find_gpu(product) for product in choice.products]
    gpus = [gpu for gpu in found if gpu is not None]
    if not gpus or len(gpus) != len(found):
        return None
    return max(gpus, key=lambda gpu: gpu.memory_mib)


def _message(
    resource: Resource,
    template: PodTemplate,
    graph: ObjectGraph,
    run: ReplicatedRun,
    gpu: Gpu,
    choice: GpuChoice,
) -> str | None:
    model = find_model(run.model)
    if model is None:
        return None
    precision = Precision.FP32 if run.fp32_weights else Precision.BF16_PURE
    states = strategy_memory(
        ModelSizes(params=model.params),
        strategy=Strategy.DDP,
        gpus_per_node=1,
        precision=precision,
    ).model_states_bytes
    memory = gpu.memory_mib * MIB
    if states <= memory:
        return None
    per_param = states // model.params
    weights = (
        "fp32 weights (--torch_dtype float32)"
        if run.fp32_weights
        else "weights counted as 16-bit"
    )
    return (
        f"{run.launch.container.label} trains {model.id} ({model.params:,} "
        f"parameters) with DDP ({run.how}): every GPU keeps the full model "
        f"states, at least {_gib(states)} ({per_param} bytes per parameter, "
        f"{weights}, AdamW), more than the {_gib(memory)} of an {gpu.name} "
        f"({choice.source}), before activations are even counted"
        + _sharded(resource, template, graph, run.launch, model_sizes(model), precision)
    )


def _sharded(
    resource: Resource,
    template: PodTemplate,
    graph: ObjectGraph,
    launch: Launch,
    sizes: ModelSizes,
    precision: Precision,
) -> str:
    """What FSDP FULL_SHARD over the same GPUs would keep per GPU."""
    world = launch_world_size(resource, template, launch, graph)
    if world is None or world.per_node is None or world.divisor != 1:
        return "; shard them with FSDP FULL_SHARD or DeepSpeed ZeRO-3"
    nodes = world.nodes[0]
    memory = strategy_memory(
        sizes,
        strategy=Strategy.FSDP_FULL_SHARD,
        gpus_per_node=world.per_node,
        nodes=nodes,
        precision=precision,
    )
    return (
        f"; FSDP FULL_SHARD over the same {memory.gpus} GPU(s) would keep about "
        f"{_gib(memory.total_bytes)} per GPU (model states and unsharded units)"
    )

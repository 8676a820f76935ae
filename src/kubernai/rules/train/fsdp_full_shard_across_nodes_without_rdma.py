"""TRN061 fsdp-full-shard-across-nodes-without-rdma."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.fabric import rdma_signal
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.sharding import FULL_SHARD, launch_sharding
from kubernai.model.training import launches
from kubernai.model.world_size import launch_world_size
from kubernai.rules.base import Finding, Rule, Severity


class FsdpFullShardAcrossNodesWithoutRdma(Rule):
    """FSDP FULL_SHARD spans several nodes whose pods ask for no RDMA network.

    ## Mechanism
    `FULL_SHARD` splits every parameter over all the ranks of the job. Each
    FSDP unit is all-gathered before its forward, all-gathered again before
    its backward and its gradients reduce-scattered after, so every layer
    waits on collectives that span all the nodes: about 1.5 times the
    traffic of DDP's single gradient all-reduce (3Ψ against 2Ψ, ZeRO paper),
    and on the critical path rather than overlapped with backward. Between
    nodes NCCL uses InfiniBand, RoCE, EFA or GPUDirect-TCPX only when the pod
    can see those devices; a pod that requests no RDMA resource, attaches no
    secondary network and does not use the host's network sends all of it
    over TCP sockets on the pod network, and the GPUs wait on it.
    `HYBRID_SHARD` (`_HYBRID_SHARD_ZERO2`, or FSDP2 with a 2-D mesh) shards
    within a node over NVLink and only all-reduces gradients across nodes:
    PyTorch describes it as reducing communication volume "as expensive
    all-gathers and reduce-scatters are only done within a node".

    This is a performance risk, not a failure: the job runs, more slowly.
    kubernai reports it only when the launch certainly uses FULL_SHARD
    (`--fsdp full_shard`, `accelerate launch --use_fsdp` with its default and
    no config file, or an explicit `--fsdp_sharding_strategy`, FSDP2 with
    `reshard_after_forward`, a script's `--sharding_strategy full`), the node
    count is known and above one, and nothing in the pod template points to
    a fast fabric (`data/rdma_fabric.json`: EFA, `rdma/*`, GKE
    multi-networking, Multus, SR-IOV, `hostNetwork`, privileged containers,
    DRA claims, `NCCL_IB_*` / `NCCL_NET` / `FI_PROVIDER`).

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fsdp-2n
    spec:
      completions: 2
      parallelism: 2
      completionMode: Indexed
      template:
        spec:
          restartPolicy: Never
          subdomain: fsdp
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nnodes", "2", "--nproc-per-node", "8",
                        "--rdzv-backend", "c10d",
                        "--rdzv-endpoint", "fsdp-2n-0.fsdp:29500",
                        "train.py", "--fsdp", "full_shard auto_wrap"]
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fsdp-2n
    spec:
      completions: 2
      parallelism: 2
      completionMode: Indexed
      template:
        spec:
          restartPolicy: Never
          subdomain: fsdp
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nnodes", "2", "--nproc-per-node", "8",
                        "--rdzv-backend", "c10d",
                        "--rdzv-endpoint", "fsdp-2n-0.fsdp:29500",
                        "train.py", "--fsdp", "hybrid_shard auto_wrap"]
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - torch/distributed/fsdp/api.py (`ShardingStrategy.FULL_SHARD`,
      `HYBRID_SHARD`)
    - https://docs.pytorch.org/docs/stable/fsdp.html
    - accelerate/commands/launch.py (`--fsdp_sharding_strategy` default
      `FULL_SHARD`, `--fsdp_reshard_after_forward` default `true`)
    - transformers/training_args.py (`--fsdp` options)
    - Rajbhandari et al., "ZeRO", SC'20, https://arxiv.org/abs/1910.02054
      (communication volume, section 7)
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html
      (`NCCL_NET`, `NCCL_IB_*`, socket fallback)
    """

    code = "TRN061"
    name = "fsdp-full-shard-across-nodes-without-rdma"
    severity = Severity.INFO
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for launch in launches(template):
                sharding = launch_sharding(launch)
                if sharding is None or sharding.strategy != FULL_SHARD:
                    continue
                world = launch_world_size(resource, template, launch, graph)
                if world is None or world.nodes[1] < 2:
                    continue
                if rdma_signal(template):
                    break
                nodes = (
                    str(world.nodes[0])
                    if not world.elastic
                    else f"up to {world.nodes[1]}"
                )
                what = (
                    "shards every parameter over all ranks with FSDP2"
                    if sharding.fsdp_version == 2
                    else "shards with FULL_SHARD"
                )
                yield self.finding(
                    resource,
                    f"{launch.container.label} {what} ({sharding.how}) across "
                    f"{nodes} nodes ({world.how}), but the pod template requests "
                    "no RDMA/EFA/InfiniBand device, secondary network or host "
                    "network: every layer's all-gather and reduce-scatter crosses "
                    "the nodes, likely over TCP; HYBRID_SHARD keeps them within "
                    "a node",
                    path=sharding.path,
                )

"""TRN045 static-rendezvous-without-node-rank."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import DEFAULT, STATIC, job_rendezvous
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity


class StaticRendezvousWithoutNodeRank(Rule):
    """Multi-node torchrun on the static rendezvous without `--node-rank`.

    ## Mechanism
    The `static` rendezvous (torchrun's default backend) does not assign
    node ranks: each agent announces the rank it was given with
    `--node-rank` (or `PET_NODE_RANK`), default **0**. When every pod of a
    multi-node job runs the same command without it, every agent claims
    group rank 0, so the workers of different pods take the same global
    ranks, the ranks of nodes 1..N-1 are never filled, and the job waits
    until the store or process group times out. Dynamic backends (`c10d`,
    etcd) assign ranks themselves and need no node rank.

    The Kubeflow training operator sets `PET_NODE_RANK` when a PyTorchJob
    has a `Master` replica, and Kubeflow Trainer sets it for torch runtimes.
    Elsewhere pass the pod's index: `$(JOB_COMPLETION_INDEX)` in an Indexed
    Job or JobSet, the `apps.kubernetes.io/pod-index` label in a
    StatefulSet, `$(LWS_WORKER_INDEX)` in a LeaderWorkerSet.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      completionMode: Indexed
      completions: 2
      parallelism: 2
      template:
        spec:
          subdomain: ddp
          restartPolicy: Never
          containers:
            - name: trainer
              image: ghcr.io/acme/ddp:1.0
              command:
                - torchrun
                - --nnodes=2
                - --nproc-per-node=8
                - --master-addr=ddp-0.ddp
                - train.py
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      completionMode: Indexed
      completions: 2
      parallelism: 2
      template:
        spec:
          subdomain: ddp
          restartPolicy: Never
          containers:
            - name: trainer
              image: ghcr.io/acme/ddp:1.0
              command:
                - torchrun
                - --nnodes=2
                - --nproc-per-node=8
                - --master-addr=ddp-0.ddp
                - --node-rank=$(JOB_COMPLETION_INDEX)
                - train.py
    ```

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/static_tcp_rendezvous.py
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/agent/server/api.py
    - https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode
    """

    code = "TRN045"
    name = "static-rendezvous-without-node-rank"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            node_range = found.node_range()
            if node_range is None or node_range[1] <= 1:
                continue
            if found.standalone is not False or found.backend != STATIC:
                continue
            if found["--node-rank"].origin != DEFAULT:
                continue
            nnodes = found["--nnodes"]
            if nnodes.path in reported:
                continue
            reported.add(nnodes.path)
            yield self.finding(
                resource,
                f"{nnodes.describe()} on the static rendezvous in "
                f"{found.container.label}, without --node-rank or PET_NODE_RANK: "
                "every pod joins as node 0 (torchrun's default), so the group "
                "never completes",
                path=nnodes.path,
            )

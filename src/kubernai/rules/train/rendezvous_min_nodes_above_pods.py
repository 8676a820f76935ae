"""TRN048 rendezvous-min-nodes-above-pods."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    COMMAND_LINE,
    elastic_policy,
    elastic_range,
    job_rendezvous,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import WORKER, is_pytorchjob, replica_specs
from kubernai.model.resource import Path, Resource, get_list
from kubernai.rules.base import Finding, Rule, Severity


class RendezvousMinNodesAbovePods(Rule):
    """PyTorchJob whose torchrun waits for more nodes than the job has pods.

    ## Mechanism
    torchrun starts training only once the rendezvous has gathered its
    minimum number of nodes (`--nnodes N`, or `MIN` of `MIN:MAX`). In a
    PyTorchJob every pod of every replica type runs one torchrun agent, so
    the job can never have more nodes than it has pods. When the minimum is
    higher, the agents that did start wait until the rendezvous times out
    (the c10d join timeout is 600 s, the static store's 600 s) and fail,
    and the job restarts into the same wait.

    The minimum comes from the command line (`--nnodes` there overrides
    the operator) or from the operator: `elasticPolicy.minReplicas` for an
    elastic job, the pod count otherwise. With `elasticPolicy.metrics` the
    operator's HorizontalPodAutoscaler can add Workers up to `maxReplicas`,
    so the ceiling is `maxReplicas` Workers then.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-b
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nnodes=3, --nproc-per-node=1, main.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-b
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nproc-per-node=1, main.py]
    ```

    ## References
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/dynamic_rendezvous.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/hpa.go
    """

    code = "TRN048"
    name = "rendezvous-min-nodes-above-pods"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        specs = replica_specs(resource)
        counts = {spec.type: spec.replicas for spec in specs}
        if not specs or any(count is None for count in counts.values()):
            return
        total = sum(count for count in counts.values() if count is not None)
        shown = " + ".join(f"{kind} {count}" for kind, count in counts.items())
        ceiling, pods = total, f"{total} pod(s) ({shown})"
        policy = elastic_policy(resource)
        if policy is not None and get_list(policy, "metrics"):
            node_range = elastic_range(resource)
            workers = counts.get(WORKER)
            if node_range is None or workers is None:
                return
            ceiling = total - workers + node_range.high
            pods = (
                f"at most {ceiling} pod(s) (its autoscaler adds Workers up to "
                f"maxReplicas={node_range.high})"
            )
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            node_range_of = found.node_range()
            if node_range_of is None:
                continue
            low, high = node_range_of
            if not 0 < low <= high or low <= ceiling:
                continue
            nnodes = found["--nnodes"]
            fixed = nnodes.origin == COMMAND_LINE and policy is None
            if nnodes.path in reported or fixed:
                continue  # a fixed command-line --nnodes: torchrun-flags-contradict-job
            reported.add(nnodes.path)
            yield self.finding(
                resource,
                f"{nnodes.describe()} in {found.container.label} waits for at "
                f"least {low} nodes, but the job runs {pods}: the rendezvous "
                "never completes and times out",
                path=nnodes.path,
            )

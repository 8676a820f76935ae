"""TRN049 elastic-range-overridden-by-nnodes."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import COMMAND_LINE, elastic_range, job_rendezvous
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity


class ElasticRangeOverriddenByNnodes(Rule):
    """Elastic PyTorchJob whose torchrun command line fixes `--nnodes`.

    ## Mechanism
    For a PyTorchJob with `spec.elasticPolicy` the training operator passes
    the node range to torchrun as `PET_NNODES=<minReplicas>:<maxReplicas>`.
    torchrun reads `PET_*` variables only for options missing from its
    command line, so an explicit `--nnodes` wins: `--nnodes=3` turns the
    elastic job into a fixed group of exactly 3 nodes. Losing a node then
    stalls the group until a replacement pod arrives instead of shrinking
    to `minReplicas`, Workers the autoscaler adds above that number sit
    waiting, and if the job has fewer pods than the fixed number it never
    starts. Leave `--nnodes` to the operator, or write the same range.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-a
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 36
        maxRestarts: 200
      pytorchReplicaSpecs:
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nproc_per_node=1, --nnodes=3, main.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-a
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 36
        maxRestarts: 200
      pytorchReplicaSpecs:
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nproc_per_node=1, main.py]
    ```

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/argparse_util.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    """

    code = "TRN049"
    name = "elastic-range-overridden-by-nnodes"
    severity = Severity.WARNING
    mechanism = "torch-elastic-fault-tolerance"
    kinds = frozenset({"PyTorchJob"})
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy_range = elastic_range(resource)
        if policy_range is None or not 0 < policy_range.low <= policy_range.high:
            return
        wanted = (policy_range.low, policy_range.high)
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            nnodes = found["--nnodes"]
            if nnodes.origin != COMMAND_LINE:
                continue
            given = found.node_range()
            if given is None or given == wanted or nnodes.path in reported:
                continue
            reported.add(nnodes.path)
            low, high = given
            effect = (
                f"a fixed group of {low} node(s)"
                if low == high
                else f"with {low}:{high} nodes instead"
            )
            yield self.finding(
                resource,
                f"{nnodes.describe()} on the command line of "
                f"{found.container.label} overrides "
                f"PET_NNODES={policy_range.low}:{policy_range.high} from "
                f"elasticPolicy ({policy_range.text}): torchrun runs {effect}",
                path=nnodes.path,
            )

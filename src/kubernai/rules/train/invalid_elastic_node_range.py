"""TRN040 invalid-elastic-node-range."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    COMMAND_LINE,
    CONTAINER_ENV,
    elastic_range,
    job_rendezvous,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.training import parse_nnodes
from kubernai.rules.base import Finding, Rule, Severity


def _is_number(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


class InvalidElasticNodeRange(Rule):
    """Elastic node range that torchrun refuses: min above max, or not above zero.

    ## Mechanism
    torchrun takes the number of nodes as `--nnodes N` or `--nnodes MIN:MAX`
    (or `PET_NNODES`). Before anything else it checks
    `assert 0 < min_nodes <= max_nodes`, so `--nnodes 4:2` or `--nnodes 0:4`
    ends every pod with a bare `AssertionError` and the container exits
    non-zero on each restart. A value with more than one colon fails with
    `nnodes=1:2:4 is not in "MIN:MAX" format`.

    The Kubeflow training operator builds `PET_NNODES=<min>:<max>` from
    `spec.elasticPolicy.minReplicas` and `maxReplicas` without comparing
    them (no webhook or CRD check), so `minReplicas: 4, maxReplicas: 2`
    creates the pods and every one of them fails in torchrun. When
    `elasticPolicy.metrics` is set the operator also creates a
    HorizontalPodAutoscaler from the same two numbers, which the API server
    refuses when min is above max.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: resnet-elastic
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 4
        maxReplicas: 2
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/resnet:1.0
                  command: [torchrun, --nproc-per-node=8, train.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: resnet-elastic
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 2
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/resnet:1.0
                  command: [torchrun, --nproc-per-node=8, train.py]
    ```

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/hpa.go
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    """

    code = "TRN040"
    name = "invalid-elastic-node-range"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        node_range = elastic_range(resource)
        if node_range is not None and not 0 < node_range.low <= node_range.high:
            yield self.finding(
                resource,
                f"elasticPolicy {node_range.text}: the operator sets "
                f"PET_NNODES={node_range.low}:{node_range.high}, which torchrun "
                "refuses (it needs 0 < min nodes <= max nodes)",
                path=node_range.path,
            )
        for found in job_rendezvous(resource):
            setting = found["--nnodes"]
            if setting.origin not in (COMMAND_LINE, CONTAINER_ENV):
                continue
            if not setting.known or setting.value is None:
                continue
            value = setting.value
            parts = value.split(":")
            if len(parts) > 2 and all(_is_number(p) for p in parts):
                yield self.finding(
                    resource,
                    f"{setting.describe()} in {found.container.label}: torchrun "
                    f'fails with nnodes={value} is not in "MIN:MAX" format',
                    path=setting.path,
                )
                continue
            parsed = parse_nnodes(value)
            if parsed is not None and not 0 < parsed[0] <= parsed[1]:
                yield self.finding(
                    resource,
                    f"{setting.describe()} in {found.container.label}: torchrun "
                    f"refuses min nodes {parsed[0]} with max nodes {parsed[1]} "
                    "(it needs 0 < min <= max)",
                    path=setting.path,
                )

"""TRN047 elastic-nproc-per-node-set-twice."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import ELASTIC_POLICY, elastic_policy
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity


class ElasticNprocPerNodeSetTwice(Rule):
    """PyTorchJob sets both `elasticPolicy.nProcPerNode` and `spec.nprocPerNode`.

    ## Mechanism
    `spec.elasticPolicy.nProcPerNode` is the deprecated (v1.7) spelling of
    `spec.nprocPerNode`; both end up as torchrun's `PET_NPROC_PER_NODE`.
    The training operator's validating webhook (v1.8 and later) refuses a
    job that sets both: `spec.elasticPolicy.nProcPerNode: Forbidden: must
    not be used with spec.nprocPerNode`. v1.7 refuses it in the controller
    (`.spec.elasticPolicy.nProcPerNode is deprecated, use .spec.nprocPerNode
    instead`). Setting only the elastic field is accepted with a
    deprecation warning.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: vit-elastic
    spec:
      nprocPerNode: "8"
      elasticPolicy:
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
        nProcPerNode: 8
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/vit:1.0
                  command: [torchrun, train.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: vit-elastic
    spec:
      nprocPerNode: "8"
      elasticPolicy:
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
                  image: ghcr.io/acme/vit:1.0
                  command: [torchrun, train.py]
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/v1.7.0/pkg/apis/kubeflow.org/v1/pytorch_validation.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/apis/kubeflow.org/v1/pytorch_types.go
    """

    code = "TRN047"
    name = "elastic-nproc-per-node-set-twice"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = elastic_policy(resource)
        if policy is None:
            return
        elastic = policy.get("nProcPerNode")
        spec = get_path(resource.raw, "spec", "nprocPerNode")
        if elastic is None or spec is None:
            return
        yield self.finding(
            resource,
            f"spec.elasticPolicy.nProcPerNode={format_quantity(elastic)} and "
            f"spec.nprocPerNode={format_quantity(spec)} are both set: the training "
            "operator refuses the job (elasticPolicy.nProcPerNode must not be "
            "used with spec.nprocPerNode)",
            path=(*ELASTIC_POLICY, "nProcPerNode"),
        )

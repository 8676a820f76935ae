"""TRN072 pytorchjob-unknown-replica-type."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import REPLICA_TYPES, is_pytorchjob, replica_specs
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class PytorchjobUnknownReplicaType(Rule):
    """PyTorchJob replica type other than `Master` or `Worker`.

    ## Mechanism
    `spec.pytorchReplicaSpecs` is a map from replica type to replica spec,
    and a PyTorchJob has two types: `Master` (rank 0, the rendezvous host)
    and `Worker`. Types borrowed from other Kubeflow jobs (`Launcher`,
    `Chief`, `PS`, `Evaluator`) mean nothing to the PyTorch controller. The
    validating webhook refuses them with `spec.pytorchReplicaSpecs[Chief]:
    Unsupported value: "Chief": supported values: "Master", "Worker"`.
    The comparison is exact: the controller's defaulting would turn
    `master` into `Master`, but the webhook (v1.8 and later) sees the job
    first, so a lower-case key is refused as well. Before the webhook, v1.7
    failed such jobs in the controller (`PyTorchReplicaType is Chief but
    must be one of [Master Worker]`).

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-sft
    spec:
      pytorchReplicaSpecs:
        master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama-sft:0.3
        worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama-sft:0.3
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-sft
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama-sft:0.3
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama-sft:0.3
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/apis/kubeflow.org/v1/pytorch_types.go
    - https://github.com/kubeflow/training-operator/blob/v1.7.0/pkg/apis/kubeflow.org/v1/pytorch_validation.go
    """

    code = "TRN072"
    name = "pytorchjob-unknown-replica-type"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        for spec in replica_specs(resource):
            if spec.type in REPLICA_TYPES or is_placeholder(spec.type):
                continue
            hint = next(
                (t for t in REPLICA_TYPES if t.lower() == spec.type.lower()), None
            )
            advice = (
                f" (the key is case-sensitive: write {hint!r})"
                if hint
                else " (a PyTorchJob has only a Master and Workers)"
            )
            yield self.finding(
                resource,
                f"replica type {spec.type!r} is not one of 'Master', 'Worker': the "
                f"training operator refuses the job{advice}",
                path=spec.path,
            )

"""TRN071 pytorchjob-master-replicas-not-one."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import MASTER, is_pytorchjob, replica_spec
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class PytorchjobMasterReplicasNotOne(Rule):
    """PyTorchJob Master replica count other than exactly 1.

    ## Mechanism
    The Master is rank 0 and the rendezvous host: the operator points
    every pod's `MASTER_ADDR` at `<job>-master-0`, so a second Master
    would be a second rank 0. The validating webhook (training-operator
    v1.8 and later) therefore requires `replicas: 1` on the Master and
    refuses anything else with `spec.pytorchReplicaSpecs[Master].replicas:
    Forbidden: must be 1`. It checks the field as submitted, before the
    controller's defaulting, so a Master that leaves `replicas` out is
    refused too (v1.7 accepted it and defaulted it to 1). Scale the job
    with the Worker replicas instead.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-finetune
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert-finetune:2.0
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert-finetune:2.0
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-finetune
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert-finetune:2.0
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert-finetune:2.0
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/v1.7.0/pkg/apis/kubeflow.org/v1/pytorch_validation.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/master.go
    """

    code = "TRN071"
    name = "pytorchjob-master-replicas-not-one"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        master = replica_spec(resource, MASTER)
        if master is None:
            return
        if not master.replicas_set:
            yield self.finding(
                resource,
                "the Master replica spec leaves replicas out: the training "
                "operator's webhook (v1.8+) refuses it before any default applies "
                "(spec.pytorchReplicaSpecs[Master].replicas: must be 1)",
                path=master.path,
            )
            return
        value = master.raw.get("replicas")
        if master.replicas == 1 or is_placeholder(value):
            return
        yield self.finding(
            resource,
            f"Master replicas is {value!r}, but a PyTorchJob has exactly one Master "
            "(rank 0): the training operator refuses it (must be 1)",
            path=(*master.path, "replicas"),
        )

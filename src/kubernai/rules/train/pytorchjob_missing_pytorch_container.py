"""TRN070 pytorchjob-missing-pytorch-container."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import DEFAULT_CONTAINER, is_pytorchjob, replica_specs
from kubernai.model.resource import Resource, get_str, is_placeholder, iter_maps
from kubernai.rules.base import Finding, Rule, Severity


class PytorchjobMissingPytorchContainer(Rule):
    """PyTorchJob replica without a container named `pytorch`.

    ## Mechanism
    The training operator treats the container named `pytorch` as the
    training container: it adds the `pytorchjob-port` port (23456) to it,
    reads the Master's copy of that port for `MASTER_PORT`, and judges a
    failed pod (restart policy `ExitCode`) by that container's exit code.
    Since v1.8 the validating
    webhook refuses a PyTorchJob whose replica has no such container:
    `spec.pytorchReplicaSpecs[Worker].template.spec.containers: Required
    value: must have at least one container with name pytorch` (v1.7
    failed the job in the controller instead: `There is no container named
    pytorch in Worker`). The name is fixed; renaming the container to
    `trainer` or `main` is enough to be refused.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: resnet-ddp
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: trainer
                  image: ghcr.io/acme/resnet-ddp:1.4
                  resources:
                    limits:
                      nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: resnet-ddp
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/resnet-ddp:1.4
                  resources:
                    limits:
                      nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/apis/kubeflow.org/v1/pytorch_types.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/common/pod.go
    """

    code = "TRN070"
    name = "pytorchjob-missing-pytorch-container"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        for spec in replica_specs(resource):
            path = (*spec.template_path, "containers")
            names = [get_str(c, "name") for _, c in iter_maps(resource.raw, *path)]
            if not names or any(
                n == DEFAULT_CONTAINER or is_placeholder(n) for n in names
            ):
                continue  # no containers at all is another error; templated names
            named = ", ".join(repr(n) for n in names if n)
            shown = f"containers {named}" if named else "only unnamed containers"
            yield self.finding(
                resource,
                f"{spec.type} has {shown} but none named "
                f"{DEFAULT_CONTAINER!r}: the training operator's webhook refuses "
                f"the job (must have at least one container with name "
                f"{DEFAULT_CONTAINER})",
                path=path,
            )

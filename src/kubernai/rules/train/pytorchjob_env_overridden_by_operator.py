"""TRN074 pytorchjob-env-overridden-by-operator."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    MASTER,
    OPERATOR_ENV,
    REPLICA_TYPES,
    InjectedEnv,
    injected_env,
    is_pytorchjob,
)
from kubernai.model.resource import Resource, get_str, is_placeholder, iter_maps
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity

_ADDRESSES = frozenset({"MASTER_ADDR", "PET_MASTER_ADDR"})
_RANKS = frozenset({"RANK", "PET_NODE_RANK"})


class PytorchjobEnvOverriddenByOperator(Rule):
    """PyTorchJob container sets a distributed variable that the operator replaces.

    ## Mechanism
    When it creates a pod, the training operator appends its own
    distributed-training variables to every container's `env`, after the
    ones in the manifest. Where a name appears twice the kubelet keeps the
    last entry, so the operator's value is what the process sees. With a
    Master replica it sets `MASTER_ADDR` and `PET_MASTER_ADDR` to
    `<job>-master-0`, `MASTER_PORT` and `PET_MASTER_PORT` to the Master's
    `pytorchjob-port` (23456 by default), `WORLD_SIZE` to the number of
    pods times `nprocPerNode` (times 1 when nprocPerNode is `auto`, `cpu`
    or `gpu`, the default being `auto`), and `RANK` and `PET_NODE_RANK` to
    the pod's index (Master 0, Worker i is i+1: a node rank, not a process
    rank). It always sets `PET_NNODES` (the number of pods, or
    `min:max` of the elastic policy) and `PET_NPROC_PER_NODE`. A manifest
    that writes its own `WORLD_SIZE: "16"` for 2 pods x 8 GPUs, or a fixed
    `RANK`, is silently overridden: a script that reads them outside
    torchrun gets the operator's numbers, and the ones in the manifest
    document a topology that does not run. Remove them, or set
    `nprocPerNode` so that the operator's values are the intended ones.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: gpt-pretrain
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/gpt-pretrain:1.0
                  env:
                    - name: WORLD_SIZE
                      value: "16"
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/gpt-pretrain:1.0
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: gpt-pretrain
    spec:
      nprocPerNode: "8"
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/gpt-pretrain:1.0
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/gpt-pretrain:1.0
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/master.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
    """

    code = "TRN074"
    name = "pytorchjob-env-overridden-by-operator"
    severity = Severity.WARNING
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        for template in resource.templates:
            if template.role not in REPLICA_TYPES:
                continue
            for container in template.containers:
                if container.init or env_names(container).isdisjoint(OPERATOR_ENV):
                    continue
                for index, item in iter_maps(container.raw, "env"):
                    name = get_str(item, "name")
                    if name not in OPERATOR_ENV:
                        continue  # the operator appends nothing else
                    found = injected_env(resource, template.role).get(name)
                    if found is None:
                        continue
                    value = item.get("value")
                    if isinstance(value, bool):
                        continue
                    if not isinstance(value, str | int | float):
                        continue  # valueFrom, or no value at all
                    text = str(value)
                    if is_placeholder(text) or "$(" in text:
                        continue
                    wins = _operator_value(found, template.role, template.replicas)
                    if wins is None or _same(name, text, found.value):
                        continue
                    yield self.finding(
                        resource,
                        f"{template.role} {container.label} sets {name}={text!r}, but "
                        f"the training operator appends {name}={wins} ({found.why}) "
                        "after it, and the last entry wins",
                        path=(*container.path, "env", index, "value"),
                    )


def _operator_value(found: InjectedEnv, role: str, replicas: int | None) -> str | None:
    if found.value is not None:
        return repr(found.value)
    if found.name in _RANKS and role != MASTER and replicas and replicas > 1:
        return f"1..{replicas}, one per Worker pod"
    return None


def _same(name: str, text: str, operator: str | None) -> bool:
    if operator is None:
        return False
    if text == operator:
        return True
    # <job>-master-0.<namespace>.svc... names the same pod as <job>-master-0.
    return name in _ADDRESSES and text.startswith(operator + ".")

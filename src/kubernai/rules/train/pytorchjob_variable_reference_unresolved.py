"""TRN079 pytorchjob-variable-reference-unresolved."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    ELASTIC_ENV,
    MASTER_ENV,
    OPERATOR_ENV,
    REPLICA_TYPES,
    is_pytorchjob,
    operator_env_names,
)
from kubernai.model.resource import Path, Resource, get_list, get_str, iter_maps
from kubernai.model.workload import Container
from kubernai.rules.base import Finding, Rule, Severity

# $(NAME), but not the escaped $$(NAME).
_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class PytorchjobVariableReferenceUnresolved(Rule):
    """PyTorchJob refers to an operator variable with `$(NAME)` where it never resolves.

    ## Mechanism
    The kubelet expands `$(NAME)` in a container's `command`, `args` and
    `env` values from the container's own variables, and leaves a reference
    it cannot resolve as literal text. Which variables the training
    operator appends to a PyTorchJob's containers depends on the job's
    shape: with a `Master` replica it sets `MASTER_ADDR`/`PET_MASTER_ADDR`
    (`<job>-master-0`), `MASTER_PORT`/`PET_MASTER_PORT`, `WORLD_SIZE`,
    `RANK` and `PET_NODE_RANK`; with `spec.elasticPolicy` it sets
    `PET_RDZV_ENDPOINT` (`<job>-worker-0`) and `PET_RDZV_BACKEND`; it always
    sets `PET_NNODES` and `PET_NPROC_PER_NODE`. Two manifests go wrong:

    - A command or args that reference `$(MASTER_ADDR)` in an elastic job
      without a Master (a common copy of the Master-based examples), or
      `$(PET_RDZV_ENDPOINT)` in a job without an elastic policy: torchrun
      receives the literal text `$(MASTER_ADDR):$(MASTER_PORT)` as its
      rendezvous endpoint and fails.
    - An `env` value that references an operator variable
      (`value: "$(MASTER_ADDR):29400"`): a reference in `env` only sees the
      variables listed above it, and the operator appends its own after the
      container's, so the value stays literal even when the job has a
      Master.

    Reference only the variables the job's shape provides, in `command` or
    `args`; torchrun reads the `PET_*` ones by itself.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: vit-train
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/vit:3.1
                  command:
                    - torchrun
                    - --rdzv-backend=c10d
                    - --rdzv-endpoint=$(MASTER_ADDR):$(MASTER_PORT)
                    - train.py
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: vit-train
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/vit:3.1
                  command: ["torchrun", "train.py"]
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
    - https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/
    """

    code = "TRN079"
    name = "pytorchjob-variable-reference-unresolved"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_pytorchjob(resource):
            return
        provided = operator_env_names(resource)
        for template in resource.templates:
            if template.role not in REPLICA_TYPES:
                continue
            for container in template.containers:
                if not container.init:
                    yield from self._references(resource, container, provided)

    def _references(
        self, resource: Resource, container: Container, provided: frozenset[str]
    ) -> Iterator[Finding]:
        if not _has_references(container):
            return
        named = [
            (i, get_str(item, "name")) for i, item in iter_maps(container.raw, "env")
        ]
        own = {name for _, name in named}
        from_sources = bool(get_list(container.raw, "envFrom"))
        reported: set[str] = set()
        for key in ("command", "args"):
            for index, item in enumerate(get_list(container.raw, key)):
                if not isinstance(item, str) or "$(" not in item or from_sources:
                    continue
                names = [
                    n
                    for n in dict.fromkeys(_REFERENCE.findall(item))
                    if n in OPERATOR_ENV
                    and n not in provided
                    and n not in own
                    and n not in reported
                ]
                if not names:
                    continue
                reported.update(names)
                refs = " and ".join(f"$({n})" for n in names)
                yield self.finding(
                    resource,
                    f"{container.label} {key} references {refs}, which the operator "
                    f"sets only {_condition(names[0])}: the kubelet leaves the text "
                    f"{refs} in place",
                    path=(*container.path, key, index),
                )
        for index, item in iter_maps(container.raw, "env"):
            value = item.get("value")
            if not isinstance(value, str) or "$(" not in value:
                continue
            earlier = {name for i, name in named if i < index}
            for name in _REFERENCE.findall(value):
                if name not in OPERATOR_ENV or name in earlier or from_sources:
                    continue
                why = (
                    f"the operator appends {name} after the container's own "
                    "variables and an env reference only sees those above it"
                    if name in provided
                    else f"the operator sets {name} only {_condition(name)}"
                )
                yield self.finding(
                    resource,
                    f"{container.label} env {get_str(item, 'name')!r} references "
                    f"$({name}), but {why}: the value keeps the text '$({name})'",
                    path=_value_path(container, index),
                )
                break


def _has_references(container: Container) -> bool:
    """Whether a ``$(VAR)`` reference appears in the command, args or env values."""
    items = [
        *(item for key in ("command", "args") for item in get_list(container.raw, key)),
        *(item.get("value") for _, item in iter_maps(container.raw, "env")),
    ]
    return any(isinstance(item, str) and "$(" in item for item in items)


def _condition(name: str) -> str:
    if name in MASTER_ENV:
        return "when the job has a Master replica"
    if name in ("PET_RDZV_ENDPOINT", "PET_RDZV_BACKEND"):
        return "when the job has an elasticPolicy"
    if name in ELASTIC_ENV:
        return "from the matching elasticPolicy field"
    return "in some job shapes"


def _value_path(container: Container, index: int) -> Path:
    return (*container.path, "env", index, "value")

"""TRN078 invalid-training-job-name."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    REPLICA_TYPES,
    is_pytorchjob,
    is_trainjob,
    replica_specs,
)
from kubernai.model.resource import Resource, get_str, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_MAX = 63
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_ALLOWED = _LETTERS | frozenset("0123456789-")


class InvalidTrainingJobName(Rule):
    """PyTorchJob or TrainJob name that the operator refuses or cannot build names from.

    ## Mechanism
    Both operators name Services after the job, and a Service name must be
    a DNS-1035 label: lower-case letters, digits and `-`, starting with a
    letter, at most 63 characters. So the PyTorchJob webhook (training
    operator v1.8+) refuses other names with `metadata.name: Invalid value:
    "..": should match: a DNS-1035 label must consist of lower case
    alphanumeric characters or '-', start with an alphabetic character, and
    end with an alphanumeric character`, and the TrainJob schema (Trainer
    v2.1.0+) with `metadata.name must match RFC 1035 DNS label format` or
    `metadata.name must be no more than 63 characters`. Names with dots or
    a leading digit, valid for most objects, are refused here. A PyTorchJob
    name that passes can still be too long for the names derived from it:
    the operator creates one Service per pod, named
    `<job>-master-0` and `<job>-worker-<index>`. When one of those exceeds
    63 characters its creation fails (`must be no more than 63
    characters`), and the operator's reconcile stops at that error every
    time: the job's status is never updated, and the pods of a replica
    type handled after it may never be created.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama3.1-8b-finetune
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/finetune:1.2
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama3-1-8b-finetune
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/finetune:1.2
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/common/service.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/apis/trainer/v1alpha1/trainjob_types.go
    - https://github.com/kubeflow/trainer/issues/1745
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#rfc-1035-label-names
    """

    code = "TRN078"
    name = "invalid-training-job-name"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob", "TrainJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        pytorchjob = is_pytorchjob(resource)
        if not pytorchjob and not is_trainjob(resource):
            return
        name = get_str(resource.raw, "metadata", "name")
        if not name or is_placeholder(name):
            return  # generateName, or a name a template fills in
        path = ("metadata", "name")
        problem = _problem(name)
        if problem:
            refuser = (
                "the training operator's webhook (v1.8+)"
                if pytorchjob
                else "the TrainJob schema (Trainer v2.1.0+)"
            )
            yield self.finding(
                resource,
                f"name {name!r} {problem}: {refuser} refuses it "
                "(an RFC 1035 DNS label is required)",
                path=path,
            )
            return
        if not pytorchjob:
            return
        longest = _longest_service(resource, name)
        if longest and len(longest) > _MAX:
            yield self.finding(
                resource,
                f"name {name!r} is {len(name)} characters, so the operator's Service "
                f"{longest!r} would be {len(longest)} (over 63): its creation fails "
                "and the operator's reconcile stops there, so the job never "
                "reports its state",
                path=path,
            )


def _problem(name: str) -> str:
    if len(name) > _MAX:
        return f"is {len(name)} characters, over 63"
    if _DNS1035.fullmatch(name):
        return ""
    bad = sorted({c for c in name if c not in _ALLOWED})
    if bad:
        return "contains " + ", ".join(repr(c) for c in bad)
    if name[0] not in _LETTERS:
        return "does not start with a lower-case letter"
    return "ends with '-'"


def _longest_service(resource: Resource, name: str) -> str:
    longest = ""
    for spec in replica_specs(resource):
        if spec.type not in REPLICA_TYPES or not spec.replicas:
            continue
        candidate = f"{name}-{spec.type.lower()}-{spec.replicas - 1}"
        if len(candidate) > len(longest):
            longest = candidate
    return longest

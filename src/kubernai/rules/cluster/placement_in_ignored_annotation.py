"""CLU095 placement-in-ignored-annotation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_path
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_PREFIX = "scheduler.alpha.kubernetes.io/"


@dataclass(frozen=True, slots=True)
class _Ignored:
    since: str
    ignored: str
    use: str


@cache
def _catalog() -> Mapping[str, _Ignored]:
    text = (
        resources.files("kubernai")
        .joinpath("data/ignored_scheduler_annotations.json")
        .read_text("utf-8")
    )
    return {
        item["key"]: _Ignored(item["since"], item["ignored"], item["use"])
        for item in json.loads(text)["annotations"]
    }


class PlacementInIgnoredAnnotation(Rule):
    """Pod template puts placement in a scheduler annotation nothing reads.

    ## Mechanism
    Before Kubernetes 1.6, affinity, tolerations and the scheduler's name
    were alpha annotations on the pod (`scheduler.alpha.kubernetes.io/affinity`,
    `.../tolerations`, `.../name`). 1.6 moved them to `spec.affinity`,
    `spec.tolerations` and `spec.schedulerName`, and the annotations have
    been ignored since; `.../critical-pod` was removed in 1.16 in favour of
    `priorityClassName`. `.../node-selector`, `.../defaultTolerations` and
    `.../tolerationsWhitelist` are read only on a Namespace, by the
    PodNodeSelector and PodTolerationRestriction admission plugins. On a
    pod these keys are accepted and do nothing: a GPU pod that tolerates
    the GPU taint only in an annotation stays Pending with
    `untolerated taint`, and affinity written there never steers it.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
          annotations:
            scheduler.alpha.kubernetes.io/tolerations: >-
              [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        spec:
          containers:
            - name: server
              image: nvcr.io/nvidia/tritonserver:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          tolerations:
            - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          containers:
            - name: server
              image: nvcr.io/nvidia/tritonserver:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/kubernetes/kubernetes/pull/37299
    - https://github.com/kubernetes/kubernetes/pull/38957
    - https://github.com/kubernetes/kubernetes/pull/80342
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#podnodeselector
    - https://kubernetes.io/docs/reference/labels-annotations-taints/
    """

    code = "CLU095"
    name = "placement-in-ignored-annotation"
    severity = Severity.WARNING
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for key in template.annotations:
                if not isinstance(key, str) or not key.startswith(_PREFIX):
                    continue
                entry = _catalog().get(key)
                if entry is None:
                    continue
                when = (
                    f"ignored on pods since Kubernetes {entry.since}"
                    if entry.since
                    else "not read on pods"
                )
                role = f" ({template.role})" if template.role else ""
                yield self.finding(
                    resource,
                    f"pod template{role} annotation {key} is {when}: "
                    f"{entry.ignored}; use {entry.use}",
                    path=_annotation_path(resource, template, key),
                )


def _annotation_path(resource: Resource, template: PodTemplate, key: str) -> Path:
    """Where the template's annotations sit (metadata of the template or pod)."""
    base = template.path[:-1]
    for candidate in (
        (*base, "metadata", "annotations"),
        (*template.path, "annotations"),
        (*base, "annotations"),
    ):
        if get_path(resource.raw, *candidate) is template.annotations:
            return (*candidate, key)
    return template.path

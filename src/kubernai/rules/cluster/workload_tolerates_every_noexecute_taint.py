"""CLU022 workload-tolerates-every-noexecute-taint."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import tolerations
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path, get_str, iter_maps
from kubernai.model.taints import squatting_toleration
from kubernai.rules.base import Finding, Rule, Severity

_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _node_bound_pod(resource: Resource) -> bool:
    """A Pod that belongs to its node: a DaemonSet's pod or a static (mirror) pod."""
    if resource.kind != "Pod":
        return False
    if _MIRROR_ANNOTATION in resource.annotations:
        return True
    return any(
        get_str(owner, "kind") == "DaemonSet"
        for _, owner in iter_maps(resource.raw, "metadata", "ownerReferences")
    )


class WorkloadToleratesEveryNoexecuteTaint(Rule):
    """Workload tolerates every NoExecute taint forever and is never evicted.

    ## Mechanism
    A toleration with `operator: Exists` and no `key` matches every taint key;
    with no `effect` (or `effect: NoExecute`) it matches every `NoExecute`
    taint, and without `tolerationSeconds` it tolerates them forever. The node
    lifecycle controller marks failed nodes with `node.kubernetes.io/not-ready`
    and `node.kubernetes.io/unreachable` (`NoExecute`) and evicts pods that do
    not tolerate them; the DefaultTolerationSeconds admission plugin normally
    gives every pod a 300-second toleration for both, but adds none when the pod
    already has a toleration with an empty key. Such a pod therefore stays bound
    to a dead or unreachable node: the Deployment or Job sees it as still there
    and creates no replacement, a training job or model server sits on a broken
    GPU node until someone deletes the pod, and the `node.kubernetes.io/out-of-service`
    taint of non-graceful node shutdown does not force-delete it either. With no
    `effect` the toleration also matches `node.kubernetes.io/unschedulable`, so
    pods evicted by `kubectl drain` can be scheduled straight back onto the
    cordoned node. DaemonSets, their pods and static pods are exempt: they
    belong to their node. Pods at `system-node-critical` priority are exempt as
    well, and CPU-only pods that `cpu-pod-tolerates-gpu-taint` already reports
    for the same toleration are left to it.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: llm-server
    spec:
      serviceName: llm-server
      replicas: 2
      selector:
        matchLabels: {app: llm-server}
      template:
        metadata:
          labels: {app: llm-server}
        spec:
          tolerations:
            - operator: Exists
          containers:
            - name: server
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: llm-server
    spec:
      serviceName: llm-server
      replicas: 2
      selector:
        matchLabels: {app: llm-server}
      template:
        metadata:
          labels: {app: llm-server}
        spec:
          tolerations:
            - key: nvidia.com/gpu
              operator: Exists
              effect: NoSchedule
          containers:
            - name: server
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#defaulttolerationseconds
    - https://kubernetes.io/docs/reference/labels-annotations-taints/#node-kubernetes-io-out-of-service
    - kubernetes plugin/pkg/admission/defaulttolerationseconds/admission.go
    - kubernetes pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go
    """

    code = "CLU022"
    name = "workload-tolerates-every-noexecute-taint"
    severity = Severity.WARNING
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "DaemonSet" or _node_bound_pod(resource):
            return
        for template in resource.templates:
            for toleration in tolerations(template):
                if (
                    toleration.key
                    or toleration.operator != "Exists"
                    or toleration.effect not in ("", "NoExecute")
                ):
                    continue
                seconds = get_path(
                    template.spec, "tolerations", toleration.index, "tolerationSeconds"
                )
                if seconds is not None:
                    continue  # evicted once the time is up
                if get_str(template.spec, "priorityClassName") == (
                    "system-node-critical"
                ):
                    break
                if squatting_toleration(resource, template, graph.facts.gpu_taint):
                    break  # cpu-pod-tolerates-gpu-taint reports this template
                role = f" ({template.role})" if template.role else ""
                cordoned = (
                    "; with no effect it also tolerates "
                    "node.kubernetes.io/unschedulable, so drained pods can return "
                    "to the cordoned node"
                    if not toleration.effect
                    else ""
                )
                yield self.finding(
                    resource,
                    f"pod template{role} tolerations[{toleration.index}] "
                    f"(operator Exists, no key, effect "
                    f"{toleration.effect or 'any'}, no tolerationSeconds) tolerates "
                    "every NoExecute taint forever: its pods are never evicted from "
                    "not-ready or unreachable nodes, and DefaultTolerationSeconds "
                    f"adds no 300s bound{cordoned}",
                    path=template.field_path("tolerations", toleration.index),
                )
                break

"""OPS042 network-policy-blocks-job-traffic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.gang import distributed_marker, volcano_plugins
from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import (
    EGRESS,
    INGRESS,
    NetworkPolicy,
    PolicyRule,
    host_network,
    policies_for,
    policy_names,
)
from kubernai.model.resource import Resource
from kubernai.model.training import launches
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_INHERENTLY_DISTRIBUTED = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "MPIJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "JAXJob"),
        ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
        ("ray.io", "RayCluster"),
        ("ray.io", "RayJob"),
        ("ray.io", "RayService"),
    }
)
"""Kinds whose pods always talk to each other."""
_DISTRIBUTED_IF_MARKED = frozenset(
    {
        ("batch", "Job"),
        ("apps", "StatefulSet"),
        ("jobset.x-k8s.io", "JobSet"),
        ("batch.volcano.sh", "Job"),
    }
)
"""Kinds whose pods form one world when a launcher or rendezvous variable says so."""
_RANDOM_PORT_KINDS = frozenset(
    {("kubeflow.org", "PyTorchJob"), ("kubeflow.org", "MPIJob")}
)
"""Kinds whose ranks connect on ports picked at run time (NCCL/Gloo, Open MPI)."""


@dataclass(frozen=True, slots=True)
class _Gap:
    direction: str
    isolated: PodTemplate
    peer: PodTemplate
    isolating: tuple[NetworkPolicy, ...]
    port_limited: tuple[PolicyRule, ...]


class NetworkPolicyBlocksJobTraffic(Rule):
    """NetworkPolicy isolates the pods of a distributed job from each other.

    ## Mechanism
    The ranks of a distributed job connect to each other directly: torchrun
    meets at the rendezvous port (`MASTER_PORT`, 29500 by default, 29400 for
    the c10d rendezvous), then NCCL's bootstrap and socket transport and
    Gloo open further TCP connections between the pods on ports picked at run
    time, which cannot be fixed in advance (NVIDIA/nccl#388); Open MPI,
    Ray and the other launchers do the same. A pod selected by a
    NetworkPolicy for `Ingress` (or `Egress`) only accepts (or opens) the
    connections some rule allows, so a namespace default deny with no rule
    for the job's own pods, or an allow rule limited to the rendezvous port,
    stops the job at initialisation: `connect() timed out`, `Connection
    refused`, `The client socket has timed out after ... while trying to
    connect to (<master>, 29500)` or a NCCL watchdog timeout. Both directions
    count: an egress default deny on the workers blocks them as surely as an
    ingress default deny on the master. The rule reports a multi-pod
    distributed job (Kubeflow jobs, LeaderWorkerSet, Ray, and JobSets,
    Volcano Jobs, Jobs and StatefulSets that run a launcher or set
    rendezvous variables) when a policy of its namespace in the input
    certainly selects its pods and no rule of the policies that may select
    them allows the job's own pods on every TCP port; an allow rule limited
    to some ports is reported for PyTorch and MPI jobs only. Selectors on
    labels that the operator adds to the pods (`training.kubeflow.org/
    job-name`, `jobset.sigs.k8s.io/jobset-name`...) are taken to match.
    GPUDirect RDMA traffic over SR-IOV or host devices bypasses the pod
    network, but the bootstrap does not.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: team-a
    spec:
      podSelector: {}
      policyTypes: [Ingress, Egress]
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-ft
      namespace: team-a
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            metadata:
              labels: {app: llama-ft}
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
        Worker:
          replicas: 3
          template:
            metadata:
              labels: {app: llama-ft}
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: team-a
    spec:
      podSelector: {}
      policyTypes: [Ingress, Egress]
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: llama-ft-ranks
      namespace: team-a
    spec:
      podSelector:
        matchLabels: {app: llama-ft}
      policyTypes: [Ingress, Egress]
      ingress:
        - from:
            - podSelector:
                matchLabels: {app: llama-ft}
      egress:
        - to:
            - podSelector:
                matchLabels: {app: llama-ft}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-ft
      namespace: team-a
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            metadata:
              labels: {app: llama-ft}
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
        Worker:
          replicas: 3
          template:
            metadata:
              labels: {app: llama-ft}
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    - https://github.com/NVIDIA/nccl/issues/388
    - https://pytorch.org/docs/stable/elastic/run.html
    - https://pytorch.org/docs/stable/elastic/quickstart.html (c10d port 29400)
    - https://docs.ray.io/en/latest/cluster/cli.html (`--min-worker-port`: random ports)
    """

    code = "OPS042"
    name = "network-policy-blocks-job-traffic"
    severity = Severity.ERROR
    mechanism = "network-policy-for-multi-tenant-ai"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policies = policies_for(graph, resource)
        if not policies or any(p.malformed for p in policies):
            return
        kind = (resource.group, resource.kind)
        templates = _distributed_templates(resource, kind)
        if not templates:
            return
        random_ports = kind in _RANDOM_PORT_KINDS or any(
            any(True for _ in launches(t)) for t in templates
        )
        for direction in (INGRESS, EGRESS):
            gap = _first_gap(resource, templates, policies, direction, graph)
            if gap is None:
                continue
            if gap.port_limited and not random_ports:
                continue  # which ports this framework needs is not known here
            yield self.finding(
                resource,
                _message(gap, sum(t.replicas or 0 for t in templates)),
                path=gap.isolated.path,
            )


def _distributed_templates(
    resource: Resource, kind: tuple[str, str]
) -> tuple[PodTemplate, ...]:
    """The pod-network templates of a multi-pod distributed job, else ``()``."""
    if kind not in _INHERENTLY_DISTRIBUTED:
        if kind not in _DISTRIBUTED_IF_MARKED:
            return ()
        marked = any(distributed_marker(t) for t in resource.templates) or (
            kind == ("batch.volcano.sh", "Job") and bool(volcano_plugins(resource))
        )
        if not marked:
            return ()
    templates = tuple(t for t in resource.templates if not host_network(t.spec))
    counts = [t.replicas for t in templates]
    if not templates or any(c is None for c in counts):
        return ()
    if sum(c or 0 for c in counts) < 2:
        return ()
    return tuple(t for t in templates if t.replicas)


def _first_gap(
    resource: Resource,
    templates: tuple[PodTemplate, ...],
    policies: tuple[NetworkPolicy, ...],
    direction: str,
    graph: ObjectGraph,
) -> _Gap | None:
    namespace = resource.namespace
    namespace_labels = graph.namespace_labels(namespace)
    for isolated in templates:
        verdicts = [(p, p.isolates(isolated.labels, direction)) for p in policies]
        isolating = tuple(p for p, verdict in verdicts if verdict is True)
        if not isolating:
            continue
        applying = [p for p, verdict in verdicts if verdict is not False]
        for peer in templates:
            if peer is isolated and (isolated.replicas or 0) < 2:
                continue  # a pod cannot block itself
            limited: list[PolicyRule] = []
            allowed = False
            for policy in applying:
                for rule in policy.rules_for(direction):
                    reaches = rule.allows_pods(
                        peer.labels,
                        namespace=namespace,
                        policy_namespace=policy.resource.namespace,
                        namespace_labels=namespace_labels,
                    )
                    if reaches is False:
                        continue
                    if rule.allows_every_port("TCP") is not False:
                        allowed = True
                        break
                    limited.append(rule)
                if allowed:
                    break
            if not allowed:
                return _Gap(direction, isolated, peer, isolating, tuple(limited))
    return None


def _role(template: PodTemplate) -> str:
    return f"{template.role} pods" if template.role else "job's pods"


def _message(gap: _Gap, pods: int) -> str:
    if gap.direction == INGRESS:
        flow = f"connections into the {_role(gap.isolated)} from the {_role(gap.peer)}"
    else:
        flow = f"connections from the {_role(gap.isolated)} to the {_role(gap.peer)}"
    names = policy_names(gap.isolating)
    head = (
        f"NetworkPolicy {names} selects the {_role(gap.isolated)} of this "
        f"{pods}-pod job for {gap.direction}"
    )
    if gap.port_limited:
        ports = sorted({p.describe() for rule in gap.port_limited for p in rule.ports})
        return (
            f"{head}, and the rules that cover {flow} allow only "
            f"{', '.join(ports)}: NCCL/Gloo (or MPI) ranks also connect on ports "
            "picked at run time, so initialisation times out"
        )
    return (
        f"{head}, and no rule allows {flow}: rendezvous and NCCL/Gloo connections "
        "between the ranks are dropped and the job hangs at initialisation"
    )

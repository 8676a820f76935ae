"""CLU042 misspelled-topology-key."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    has_topology_terms,
    misspelled_topology_key,
    node_labels,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class MisspelledTopologyKey(Rule):
    """topologyKey that is a near miss of a well-known node label.

    ## Mechanism
    Kubernetes sets `kubernetes.io/hostname` on every node and cloud
    providers set `topology.kubernetes.io/zone` and
    `topology.kubernetes.io/region`. Label keys are matched exactly, so
    `kubernetes.io/host-name`, `kubernetes.io/hostName`,
    `topology.kubernetes.io/zones` or `kubernetes.io/zone` name a label that
    no node carries. A required `podAffinity` term or a `DoNotSchedule`
    spread constraint on such a key rejects every node (`node(s) didn't match
    pod topology spread constraints (missing required label)`) and the pods
    stay Pending; anti-affinity and soft terms on it silently do nothing.
    Only clear slips are reported: keys within two edits or a case change of
    the three well-known keys, a bare `hostname`, and `hostname`, `zone` or
    `region` under a `kubernetes.io` domain that Kubernetes does not use.
    When Node objects are in the input, CLU040 and CLU041 check keys against
    the real labels instead, and this rule stays silent.

    ## Example
    ```yaml
    apiVersion: jobset.x-k8s.io/v1alpha2
    kind: JobSet
    metadata:
      name: pretrain
    spec:
      replicatedJobs:
        - name: workers
          replicas: 1
          template:
            spec:
              parallelism: 4
              completions: 4
              template:
                metadata:
                  labels: {app: pretrain}
                spec:
                  topologySpreadConstraints:
                    - maxSkew: 1
                      topologyKey: kubernetes.io/host-name
                      whenUnsatisfiable: DoNotSchedule
                      labelSelector:
                        matchLabels: {app: pretrain}
                  containers:
                    - name: trainer
                      image: nvcr.io/nvidia/pytorch:24.07-py3
                      resources:
                        limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: jobset.x-k8s.io/v1alpha2
    kind: JobSet
    metadata:
      name: pretrain
    spec:
      replicatedJobs:
        - name: workers
          replicas: 1
          template:
            spec:
              parallelism: 4
              completions: 4
              template:
                metadata:
                  labels: {app: pretrain}
                spec:
                  topologySpreadConstraints:
                    - maxSkew: 1
                      topologyKey: kubernetes.io/hostname
                      whenUnsatisfiable: DoNotSchedule
                      labelSelector:
                        matchLabels: {app: pretrain}
                  containers:
                    - name: trainer
                      image: nvcr.io/nvidia/pytorch:24.07-py3
                      resources:
                        limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/reference/labels-annotations-taints/
    - https://kubernetes.io/docs/reference/node/node-labels/
    - kubernetes pkg/scheduler/framework/plugins/podtopologyspread/filtering.go
    """

    code = "CLU042"
    name = "misspelled-topology-key"
    severity = Severity.WARNING
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if node_labels(graph) is not None:
            return  # CLU040 / CLU041 check the keys against the real Nodes
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            for term in topology_terms(template):
                guess = misspelled_topology_key(term.key)
                if guess is None:
                    continue
                role = f" ({template.role})" if template.role else ""
                effect = (
                    "every node lacks it, so the pods stay Pending"
                    if term.filters_nodes_without_key
                    else "no node carries it, so the term has no effect"
                )
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label} uses topologyKey "
                    f"{term.key!r}, not a label Kubernetes sets; did you mean "
                    f"{guess}? If it is misspelled, {effect}",
                    path=term.key_path,
                )

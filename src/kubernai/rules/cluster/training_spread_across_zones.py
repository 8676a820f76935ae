"""CLU047 training-spread-across-zones."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    TRAINING_KINDS,
    ZONE_KEYS,
    has_topology_terms,
    pins_one_zone,
    pod_devices,
    pods_selected,
    selects_own_pods,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class TrainingSpreadAcrossZones(Rule):
    """GPU training job whose ranks are forced into different zones.

    ## Mechanism
    Every step of data-parallel, FSDP or tensor-parallel training ends in
    collectives (all-reduce, all-gather) that wait for the slowest link
    between ranks. A `DoNotSchedule` topology spread constraint on
    `topology.kubernetes.io/zone` that counts the job's own pods, with more
    pods than `maxSkew`, or a required `podAntiAffinity` term on the zone
    key, makes the scheduler put ranks in different zones whenever the
    eligible GPU nodes span more than one. Links between zones have higher
    latency and lower bandwidth than the network inside a zone, and the RDMA
    paths GPU clusters rely on stay inside one (EFA's OS-bypass traffic
    cannot leave its subnet, and a subnet lives in one Availability Zone),
    so the whole job runs at the speed of the inter-zone path, and cloud
    providers bill the cross-zone traffic. Zone spreading is for replicated
    services; keep a training job in one zone (podAffinity on the zone key,
    a zone node selector, or Kueue topology-aware scheduling) and spread only
    across hosts. The rule is silent when the node selector already pins one
    zone.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            metadata:
              labels: {app: llama-pretrain}
            spec:
              topologySpreadConstraints:
                - maxSkew: 1
                  topologyKey: topology.kubernetes.io/zone
                  whenUnsatisfiable: DoNotSchedule
                  labelSelector:
                    matchLabels: {app: llama-pretrain}
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            metadata:
              labels: {app: llama-pretrain}
            spec:
              affinity:
                podAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: llama-pretrain}
                      topologyKey: topology.kubernetes.io/zone
              topologySpreadConstraints:
                - maxSkew: 1
                  topologyKey: kubernetes.io/hostname
                  whenUnsatisfiable: DoNotSchedule
                  labelSelector:
                    matchLabels: {app: llama-pretrain}
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html#efa-limits
    - https://kueue.sigs.k8s.io/docs/concepts/topology_aware_scheduling/
    """

    code = "CLU047"
    name = "training-spread-across-zones"
    severity = Severity.WARNING
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (resource.group, resource.kind) not in TRAINING_KINDS:
            return
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            devices = pod_devices(template)
            if devices is None:
                continue
            if pins_one_zone(template):
                continue
            for term in topology_terms(template):
                if term.key not in ZONE_KEYS or not term.required:
                    continue
                if not term.spread and not term.anti:
                    continue  # podAffinity on the zone keeps ranks together
                if selects_own_pods(resource, template, term.selector) is not True:
                    continue
                pods = pods_selected(
                    resource, term.selector, device=devices.resource_name
                )
                if pods is None or pods < 2:
                    continue
                if term.spread:
                    skew = term.max_skew
                    if skew is None or skew < 1 or pods <= skew:
                        continue
                    how = f"with maxSkew {skew} over {pods} pods"
                else:
                    how = f"keeps each of the {pods} pods in a different zone"
                role = f" ({template.role})" if template.role else ""
                yield self.finding(
                    resource,
                    f"GPU training pod template{role}: {term.label} on {term.key} "
                    f"{how}: ranks land in different zones whenever the GPU "
                    "nodes span several, and every collective crosses zones",
                    path=term.key_path,
                )
                break

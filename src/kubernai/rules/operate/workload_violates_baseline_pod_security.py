"""OPS032 workload-violates-baseline-pod-security."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import rejection_text, rejections
from kubernai.model.resource import Resource
from kubernai.model.taints import gpu_node_agent
from kubernai.rules.base import Finding, Rule, Severity


class WorkloadViolatesBaselinePodSecurity(Rule):
    """Privileged or host-access workload in a namespace that enforces baseline.

    ## Mechanism
    Pod Security Admission checks every pod against the namespace's
    `pod-security.kubernetes.io/enforce` level when the pod is created.
    Workload objects (Deployments, DaemonSets, Jobs) are only warned about,
    so `kubectl apply` succeeds, but each pod the controller then creates is
    refused: the DaemonSet, Job or ReplicaSet shows `FailedCreate` events
    such as `Error creating: pods "nvidia-device-plugin-daemonset-x7k2p" is
    forbidden: violates PodSecurity "baseline:latest": hostPath volumes
    (volume "device-plugin"), privileged (container "nvidia-device-plugin-ctr"
    must not set securityContext.privileged=true)`, and no pod ever runs. The
    `baseline` level (and `restricted`, which includes it) forbids privileged
    containers, hostPath volumes, hostNetwork/hostPID/hostIPC, host ports
    (a `hostNetwork` pod's container ports become host ports), capabilities
    beyond the default set, seccomp `Unconfined` and a few others. GPU node
    agents need exactly these: the NVIDIA device plugin registers with the
    kubelet through the hostPath `/var/lib/kubelet/device-plugins`, the DCGM
    exporter reads `/var/lib/kubelet/pod-resources`, and the GPU Operator's
    driver, toolkit, feature-discovery and MIG manager pods run privileged.
    A device plugin that never starts means its nodes never advertise
    `nvidia.com/gpu`, and every GPU pod stays Pending. The finding quotes the
    reasons admission gives, computed from the template as the API server
    would see it, for the Namespace object in the input; namespaces exempted
    in the API server's AdmissionConfiguration are not known to kubernai, and
    Knative, KServe and Kubeflow Trainer objects, whose pods their controllers
    assemble, are skipped.
    Restricted-only gaps in otherwise unprivileged pods are reported by
    `workload-violates-restricted-pod-security`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-system
      labels:
        pod-security.kubernetes.io/enforce: baseline
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: nvidia-device-plugin-daemonset
      namespace: gpu-system
    spec:
      selector:
        matchLabels: {name: nvidia-device-plugin-ds}
      template:
        metadata:
          labels: {name: nvidia-device-plugin-ds}
        spec:
          tolerations:
            - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          containers:
            - name: nvidia-device-plugin-ctr
              image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0
              securityContext:
                privileged: true
              volumeMounts:
                - {name: device-plugin, mountPath: /var/lib/kubelet/device-plugins}
          volumes:
            - name: device-plugin
              hostPath: {path: /var/lib/kubelet/device-plugins}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-system
      labels:
        pod-security.kubernetes.io/enforce: privileged
        pod-security.kubernetes.io/warn: baseline
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: nvidia-device-plugin-daemonset
      namespace: gpu-system
    spec:
      selector:
        matchLabels: {name: nvidia-device-plugin-ds}
      template:
        metadata:
          labels: {name: nvidia-device-plugin-ds}
        spec:
          tolerations:
            - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          containers:
            - name: nvidia-device-plugin-ctr
              image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0
              securityContext:
                privileged: true
              volumeMounts:
                - {name: device-plugin, mountPath: /var/lib/kubelet/device-plugins}
          volumes:
            - name: device-plugin
              hostPath: {path: /var/lib/kubelet/device-plugins}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/
    - kubernetes/pod-security-admission admission/admission.go (EvaluatePod,
      ValidatePodController)
    - kubernetes/pod-security-admission policy/check_privileged.go,
      check_hostPathVolumes.go, check_hostNamespaces.go, check_hostPorts.go
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/deployments/static/nvidia-device-plugin-privileged-with-service-account.yml
    """

    code = "OPS032"
    name = "workload-violates-baseline-pod-security"
    severity = Severity.ERROR
    mechanism = "pod-security-admission-for-gpu-workloads"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for rejection in rejections(resource, graph):
            if not rejection.fails_baseline:
                continue
            agent = gpu_node_agent(rejection.template)
            consequence = ""
            if agent is not None:
                consequence = f"; it runs {agent.what}"
                if "device plugin" in agent.what:
                    consequence += (
                        ", so the nodes it serves never advertise nvidia.com/gpu"
                    )
            yield self.finding(
                resource,
                rejection_text(resource, rejection) + consequence,
                path=rejection.path,
            )

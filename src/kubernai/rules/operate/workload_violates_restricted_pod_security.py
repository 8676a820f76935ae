"""OPS033 workload-violates-restricted-pod-security."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import rejection_text, rejections
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class WorkloadViolatesRestrictedPodSecurity(Rule):
    """Workload lacks the securityContext its restricted namespace requires.

    ## Mechanism
    A namespace labelled `pod-security.kubernetes.io/enforce: restricted`
    admits only pods that, besides meeting `baseline`, set for every
    container (init containers included) `allowPrivilegeEscalation: false`,
    `capabilities.drop: ["ALL"]` (adding back at most `NET_BIND_SERVICE`),
    `runAsNonRoot: true` and a `seccompProfile` of type `RuntimeDefault` or
    `Localhost` (the last two may be set once at pod level), never
    `runAsUser: 0`, and that use only configMap, csi, downwardAPI, emptyDir,
    ephemeral, image, persistentVolumeClaim, projected and secret volumes (an
    `nfs` dataset volume is refused). Nothing defaults these fields, and the
    check runs when each pod is created, so a Deployment or Job applies
    cleanly and then gets no pods: `FailedCreate` events read `Error creating:
    pods "vllm-6d9f7b-x2x8q" is forbidden: violates PodSecurity
    "restricted:latest": allowPrivilegeEscalation != false (container "vllm"
    must set securityContext.allowPrivilegeEscalation=false), ...`. A GPU
    container needs no privilege to use the devices the NVIDIA device plugin
    hands it, so the fix is to add the fields. If the image's default user is
    root (an image built without a `USER` instruction), `runAsNonRoot: true`
    alone makes the kubelet refuse to start it (`container has runAsNonRoot
    and image will run as root`, `CreateContainerConfigError`), so set a
    non-zero `runAsUser` too and give the process writable directories
    (model caches, `HOME`). The rule needs
    the Namespace object in the input; mutating webhooks that add these fields
    (OpenShift security context constraints, Kyverno mutate policies) are not
    seen, and Knative, KServe and Kubeflow Trainer objects, whose pods their
    controllers assemble and may default, are skipped. Pods that also need
    privileges or host access are reported by
    `workload-violates-baseline-pod-security`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: llm-serving
      labels:
        pod-security.kubernetes.io/enforce: restricted
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: llm-serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: llm-serving
      labels:
        pod-security.kubernetes.io/enforce: restricted
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: llm-serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          securityContext:
            runAsNonRoot: true
            runAsUser: 1000
            runAsGroup: 1000
            fsGroup: 1000
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
              env:
                - {name: HOME, value: /tmp}
              securityContext:
                allowPrivilegeEscalation: false
                capabilities:
                  drop: ["ALL"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/
    - kubernetes/pod-security-admission policy/check_allowPrivilegeEscalation.go,
      check_capabilities_restricted.go, check_runAsNonRoot.go, check_runAsUser.go,
      check_seccompProfile_restricted.go, check_restrictedVolumes.go
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    """

    code = "OPS033"
    name = "workload-violates-restricted-pod-security"
    severity = Severity.ERROR
    mechanism = "pod-security-admission-for-gpu-workloads"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for rejection in rejections(resource, graph):
            if rejection.fails_baseline:
                continue  # workload-violates-baseline-pod-security
            yield self.finding(
                resource,
                rejection_text(resource, rejection),
                path=rejection.path,
            )

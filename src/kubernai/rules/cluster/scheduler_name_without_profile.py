"""CLU094 scheduler-name-without-profile."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str, is_placeholder
from kubernai.model.scheduler_config import (
    DEFAULT_SCHEDULER,
    external_schedulers,
    folder_of,
    scheduler_index,
)
from kubernai.rules.base import Finding, Rule, Severity


class SchedulerNameWithoutProfile(Rule):
    """Pod template names a scheduler that no configuration in the input serves.

    ## Mechanism
    A pod is scheduled only by the scheduler whose profile carries the pod's
    `spec.schedulerName`; every other scheduler ignores it. When no running
    scheduler has that name the pod stays Pending forever, and because no
    scheduler ever looks at it there is no `FailedScheduling` event to
    explain why. The rule compares the name with the profiles of the
    KubeSchedulerConfigurations in the input (as documents, inside
    ConfigMaps or in an AKS SchedulerConfiguration). It reports a name that
    is close to a profile name (a typo) anywhere in the input, and any other
    unknown name only when a configuration sits in the same folder as the
    workload (one bundle). It stays silent when the input has no
    configuration, when the name is `default-scheduler`, is passed to a
    scheduler with `--scheduler-name` or written as `schedulerName` in a
    ConfigMap, or is the default name of a known separate scheduler
    (Volcano, KAI, YuniKorn, Koordinator, HAMi, scheduler-plugins, Run:ai,
    kube-batch).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: gpu-scheduler-config
      namespace: kube-system
    data:
      config.yaml: |
        apiVersion: kubescheduler.config.k8s.io/v1
        kind: KubeSchedulerConfiguration
        profiles:
          - schedulerName: gpu-binpack
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          schedulerName: gpu-bin-pack
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: gpu-scheduler-config
      namespace: kube-system
    data:
      config.yaml: |
        apiVersion: kubescheduler.config.k8s.io/v1
        kind: KubeSchedulerConfiguration
        profiles:
          - schedulerName: gpu-binpack
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          schedulerName: gpu-binpack
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/tasks/extend-kubernetes/configure-multiple-schedulers/
    - https://kubernetes.io/docs/reference/scheduling/config/#multiple-profiles
    """

    code = "CLU094"
    name = "scheduler-name-without-profile"
    severity = Severity.WARNING
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            name = get_str(template.spec, "schedulerName")
            if not name or name == DEFAULT_SCHEDULER or is_placeholder(name):
                continue
            if name in external_schedulers():
                continue
            index = scheduler_index(graph)
            if not index.configs:
                return  # no configuration in the input: the name is unknown
            known = index.profile_names
            if name in known or name in index.mentioned_names:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            if not close and folder_of(resource) not in index.config_folders:
                continue  # likely a scheduler configured outside this bundle
            hint = f"; did you mean {close[0]!r}?" if close else ""
            profiles = ", ".join(sorted(known)) or "none"
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} sets schedulerName {name!r}, but no "
                "KubeSchedulerConfiguration in the input has a profile of that "
                f"name (profiles: {profiles}) and no other scheduler in the input "
                "uses it: no scheduler picks the pods up and they stay Pending "
                f"without events{hint}",
                path=template.field_path("schedulerName"),
            )

"""CLU057 kubelet-soft-eviction-without-pod-grace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.features import KUBELET_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_config import kubelet_configs
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KubeletSoftEvictionWithoutPodGrace(Rule):
    """Kubelet soft eviction thresholds with no `evictionMaxPodGracePeriod`.

    ## Mechanism
    A soft eviction threshold waits `evictionSoftGracePeriod` before it
    evicts, which reads like the gentle option. The time the evicted pod gets
    to stop is another field: `evictionMaxPodGracePeriod`, which defaults to
    0. The kubelet terminates pods evicted on a soft threshold with that
    value as the grace period (recent kubelets take the lesser of it and the
    pod's `terminationGracePeriodSeconds`), so with the default the pod is
    killed at once: no preStop hook time, no chance to save a checkpoint.
    Set it to what your workloads need to stop, for example the time a
    training job needs to write a checkpoint.

    ## Example
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    evictionSoft:
      memory.available: 4Gi
    evictionSoftGracePeriod:
      memory.available: 1m30s
    ```

    ## Use instead
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    evictionSoft:
      memory.available: 4Gi
    evictionSoftGracePeriod:
      memory.available: 1m30s
    evictionMaxPodGracePeriod: 300
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#soft-eviction-thresholds
    - kubernetes/kubernetes pkg/kubelet/eviction/eviction_manager.go
      (synchronize: gracePeriodOverride = MaxPodGracePeriodSeconds)
    """

    code = "CLU057"
    name = "kubelet-soft-eviction-without-pod-grace"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = frozenset({"KubeletConfiguration", "ConfigMap"})
    requires = frozenset({KUBELET_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in kubelet_configs(resource):
            soft = config.raw.get("evictionSoft")
            if not isinstance(soft, Mapping) or not soft:
                continue
            value = config.raw.get("evictionMaxPodGracePeriod")
            if value is None:
                shown, path = "unset (0)", config.field_path("evictionSoft")
            elif isinstance(value, int) and not isinstance(value, bool) and value == 0:
                shown, path = "0", config.field_path("evictionMaxPodGracePeriod")
            else:
                continue
            signals = ", ".join(str(s) for s in soft)
            yield self.finding(
                resource,
                f"{config.where('evictionSoft')} sets {signals} but "
                f"evictionMaxPodGracePeriod is {shown}: pods evicted on a soft "
                "threshold are killed with no grace period",
                path=path,
            )

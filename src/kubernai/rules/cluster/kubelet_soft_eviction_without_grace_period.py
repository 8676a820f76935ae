"""CLU058 kubelet-soft-eviction-without-grace-period."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.features import KUBELET_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_config import kubelet_configs
from kubernai.model.resource import Resource, get_map
from kubernai.rules.base import Finding, Rule, Severity


class KubeletSoftEvictionWithoutGracePeriod(Rule):
    """Kubelet soft eviction signal with no `evictionSoftGracePeriod` entry.

    ## Mechanism
    Every signal in `evictionSoft` needs a matching entry in
    `evictionSoftGracePeriod`: how long the threshold must hold before the
    kubelet evicts. When one is missing the kubelet does not start; it exits
    with `grace period must be specified for the soft eviction threshold
    memory.available`, and the node stays `NotReady`. A node pool rolled out
    with such a configuration never joins the cluster.

    ## Example
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    evictionSoft:
      memory.available: 4Gi
    evictionMaxPodGracePeriod: 300
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
    - kubernetes/kubernetes pkg/kubelet/eviction/helpers.go (ParseThresholdConfig)
    """

    code = "CLU058"
    name = "kubelet-soft-eviction-without-grace-period"
    severity = Severity.ERROR
    mechanism = "eviction-and-gpu-workloads"
    kinds = frozenset({"KubeletConfiguration", "ConfigMap"})
    requires = frozenset({KUBELET_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in kubelet_configs(resource):
            soft = config.raw.get("evictionSoft")
            if not isinstance(soft, Mapping):
                continue
            periods = get_map(config.raw, "evictionSoftGracePeriod")
            missing = [s for s in soft if isinstance(s, str) and s not in periods]
            if not missing:
                continue
            yield self.finding(
                resource,
                f"{config.where('evictionSoft')} sets {', '.join(missing)} with no "
                "evictionSoftGracePeriod entry: the kubelet fails to start with "
                "'grace period must be specified for the soft eviction threshold "
                f"{missing[0]}'",
                path=config.field_path("evictionSoft", missing[0]),
            )

"""CLU055 kubelet-eviction-hard-partial."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.features import KUBELET_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_config import default_eviction_hard, kubelet_configs
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KubeletEvictionHardPartial(Rule):
    """Kubelet `evictionHard` that sets some signals and so drops the other defaults.

    ## Mechanism
    The kubelet's default hard eviction thresholds on Linux are
    `memory.available<100Mi`, `nodefs.available<10%`, `imagefs.available<15%`
    and `nodefs.inodesFree<5%`. They apply only while `evictionHard` is unset:
    a configuration that sets one signal (say, a larger `memory.available`
    for GPU nodes) leaves every other signal with no threshold at all, so
    the kubelet no longer evicts anything when the root or image filesystem
    fills up. On GPU nodes that is where multi-gigabyte images, container
    logs and emptyDir checkpoints go; a full disk then fails image pulls,
    container starts and checkpoint writes instead of evicting one pod. An
    `evictionHard: {}` turns hard eviction off altogether. List every signal,
    or set `mergeDefaultEvictionSettings: true` on kubelets that have it.

    The rule reads KubeletConfiguration documents and ConfigMaps that carry
    one in their data (as kubeadm's `kubelet-config` does); findings on an
    embedded configuration point at its data key.

    ## Example
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    evictionHard:
      memory.available: 2Gi
    ```

    ## Use instead
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    evictionHard:
      memory.available: 2Gi
      nodefs.available: 10%
      imagefs.available: 15%
      nodefs.inodesFree: 5%
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#hard-eviction-thresholds
    - https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/
    - kubernetes/kubernetes pkg/kubelet/eviction/defaults_linux.go
    - kubernetes/kubernetes cmd/kubelet/app/server.go (loadConfigFile)
    """

    code = "CLU055"
    name = "kubelet-eviction-hard-partial"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = frozenset({"KubeletConfiguration", "ConfigMap"})
    requires = frozenset({KUBELET_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        defaults = default_eviction_hard()
        for config in kubelet_configs(resource):
            hard = config.raw.get("evictionHard")
            if not isinstance(hard, Mapping):
                continue  # unset (null): the defaults apply
            if config.raw.get("mergeDefaultEvictionSettings") is True:
                continue
            missing = [signal for signal in defaults if signal not in hard]
            if not missing:
                continue
            field = config.where("evictionHard")
            lost = ", ".join(f"{s}<{defaults[s]}" for s in missing)
            if not hard:
                message = (
                    f"{field} is empty: no default applies, so the kubelet has no "
                    f"hard eviction threshold at all (defaults dropped: {lost})"
                )
            else:
                shown = ", ".join(str(s) for s in hard)
                message = (
                    f"{field} sets {shown} only: the defaults of the other signals "
                    f"are dropped, leaving no hard threshold for {lost}"
                )
            yield self.finding(
                resource, message, path=config.field_path("evictionHard")
            )

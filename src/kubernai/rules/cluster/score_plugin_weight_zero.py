"""CLU097 score-plugin-weight-zero."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.model.scheduler_config import CARRIER_KINDS, as_int, configs_in
from kubernai.rules.base import Finding, Rule, Severity

# In-tree plugins with a Score extension point (pkg/scheduler/apis/config/v1/
# default_plugins.go and the plugins' Score methods); under multiPoint a
# weight only matters for these.
_SCORE_PLUGINS = frozenset(
    {
        "TaintToleration",
        "NodeAffinity",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
        "NodeResourcesBalancedAllocation",
        "ImageLocality",
        "VolumeBinding",
        "DynamicResources",
    }
)


class ScorePluginWeightZero(Rule):
    """Score plugin given weight 0, which kube-scheduler turns into 1.

    ## Mechanism
    A weight of 0 is not a way to switch a score plugin off: when the
    framework builds a profile it replaces a zero (or missing) weight with 1
    ("a weight of zero is not permitted, plugins can be disabled explicitly
    when configured"). A GPU bin-packing profile that sets
    `NodeResourcesBalancedAllocation` or `ImageLocality` to 0 so that only
    `NodeResourcesFit` decides still has those plugins pulling every pod
    towards balanced or image-holding nodes. To stop a plugin scoring,
    list it under `plugins.score.disabled`.

    ## Example
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: gpu-binpack
        plugins:
          score:
            enabled:
              - {name: NodeResourcesFit, weight: 10}
              - {name: NodeResourcesBalancedAllocation, weight: 0}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: gpu-binpack
        plugins:
          score:
            enabled:
              - {name: NodeResourcesFit, weight: 10}
            disabled:
              - {name: NodeResourcesBalancedAllocation}
    ```

    ## References
    - kubernetes pkg/scheduler/framework/runtime/framework.go (score plugin weights)
    - https://kubernetes.io/docs/reference/scheduling/config/#scheduling-plugins
    - https://kubernetes.io/docs/reference/config-api/kube-scheduler-config.v1/#kubescheduler-config-k8s-io-v1-Plugin
    """

    code = "CLU097"
    name = "score-plugin-weight-zero"
    severity = Severity.WARNING
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                plugins = get_map(profile.raw, "plugins")
                score_weights = {
                    get_str(p, "name"): as_int(p.get("weight"))
                    for _, p in iter_maps(plugins, "score", "enabled")
                }
                for point in ("score", "multiPoint"):
                    for index, plugin in iter_maps(plugins, point, "enabled"):
                        name = get_str(plugin, "name")
                        if as_int(plugin.get("weight")) != 0 or not name:
                            continue
                        if point == "multiPoint" and (
                            name not in _SCORE_PLUGINS or score_weights.get(name)
                        ):
                            continue  # not a score plugin, or score sets it
                        path = (
                            *profile.path,
                            "plugins",
                            point,
                            "enabled",
                            index,
                            "weight",
                        )
                        yield self.finding(
                            resource,
                            f"{config.prefix(path)}{profile.label}: {name} "
                            "weight 0 is replaced by 1, so the plugin still "
                            "scores; list it under plugins.score.disabled to stop "
                            "it",
                            path=config.finding_path(path),
                        )

"""CLU082 mps-sharing-with-mig."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.mig import MIG_RESOURCE_PREFIX
from kubernai.model.resource import Resource
from kubernai.model.sharing import MPS, sharing_index
from kubernai.rules.base import Finding, Rule, Severity


class MpsSharingWithMig(Rule):
    """NVIDIA device-plugin config combines MPS sharing with MIG.

    ## Mechanism
    The device plugin's MPS sharing works on full GPUs only ("Sharing with
    MPS is currently not supported on devices with MIG enabled"). With
    `migStrategy: mixed` the plugin does not start at all: it exits with
    `using --mig-strategy=mixed is not supported with MPS`. An entry of
    `sharing.mps.resources` that names a MIG resource (`nvidia.com/mig-...`)
    can never be shared with MPS: under `mixed` the plugin refuses to start,
    and under `none` or `single` no resource of that name exists, so the
    entry matches nothing. When a GPU Operator ClusterPolicy in the input
    names this ConfigMap as its device-plugin config and sets
    `spec.mig.strategy`, that strategy is what the plugin runs with (the
    operator passes it as `MIG_STRATEGY`, which overrides
    `flags.migStrategy`). Use time-slicing for MIG slices, or MPS on nodes
    without MIG.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: device-plugin-config
      namespace: nvidia-device-plugin
    data:
      config.yaml: |-
        version: v1
        flags:
          migStrategy: mixed
        sharing:
          mps:
            resources:
              - name: nvidia.com/mig-3g.40gb
                replicas: 2
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: device-plugin-config
      namespace: nvidia-device-plugin
    data:
      config.yaml: |-
        version: v1
        flags:
          migStrategy: mixed
        sharing:
          timeSlicing:
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/mig-3g.40gb
                replicas: 2
    ```

    ## References
    - NVIDIA/k8s-device-plugin cmd/nvidia-device-plugin/main.go (validateFlags)
    - NVIDIA/k8s-device-plugin internal/plugin/mps.go (getMPSOptions)
    - https://github.com/NVIDIA/k8s-device-plugin#with-cuda-mps
    - NVIDIA/gpu-operator controllers/object_controls.go (applyMIGConfiguration)
    """

    code = "CLU082"
    name = "mps-sharing-with-mig"
    severity = Severity.ERROR
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        index = sharing_index(graph)
        configs = index.configs_of(resource)
        if not configs:
            return
        overrides = [p for p in index.policies_naming(resource) if p.mig_strategy]
        for config in configs:
            mps = config.block(MPS)
            if mps is None or not mps.replicated:
                continue
            strategy, where = config.mig_strategy, "flags.migStrategy"
            if overrides:
                strategy = overrides[0].mig_strategy
                where = f"ClusterPolicy {overrides[0].resource.name} spec.mig.strategy"
            if strategy == "mixed":
                yield self.finding(
                    resource,
                    f"data[{config.data_key}] shares with MPS while {where} is "
                    'mixed: the plugin exits with "using --mig-strategy=mixed is '
                    'not supported with MPS"',
                    path=config.finding_path,
                )
            for entry in mps.resources:
                if entry.name.startswith(MIG_RESOURCE_PREFIX):
                    inner = (*mps.path, "resources", entry.index, "name")
                    yield self.finding(
                        resource,
                        f"{config.describe(inner)} is {entry.name}: MPS shares "
                        "only full GPUs (nvidia.com/gpu), never MIG slices",
                        path=config.finding_path,
                    )

"""CLU080 invalid-gpu-sharing-config."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.model.sharing import (
    MPS,
    TIME_SLICING,
    PluginConfig,
    as_int,
    sharing_index,
)
from kubernai.rules.base import Finding, Rule, Severity


class InvalidGpuSharingConfig(Rule):
    """NVIDIA device-plugin sharing config that the plugin refuses to load.

    ## Mechanism
    The NVIDIA device plugin (deployed by its Helm chart or by the GPU
    Operator) reads its config from a ConfigMap key. Each entry of
    `sharing.timeSlicing.resources` or `sharing.mps.resources` needs a `name`
    and an integer `replicas` of at least 2, and the block needs at least one
    entry. Otherwise loading fails with `error starting plugins: unable to
    load config: ... unable to parse config file: ...` ending in `number of
    replicas must be >= 2`, `no replicas specified`, `no resource name
    specified` or `no resources specified`; the plugin exits and restarts in
    a loop on every node that uses this config, and no GPU can be allocated
    there until the config is fixed. `replicas: 1` does not turn sharing
    off: remove the sharing block instead.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: time-slicing-config
      namespace: gpu-operator
    data:
      any: |-
        version: v1
        sharing:
          timeSlicing:
            resources:
              - name: nvidia.com/gpu
                replicas: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: time-slicing-config
      namespace: gpu-operator
    data:
      any: |-
        version: v1
        sharing:
          timeSlicing:
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ```

    ## References
    - NVIDIA/k8s-device-plugin api/config/v1/replicas.go (UnmarshalJSON)
    - https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-sharing.html
    """

    code = "CLU080"
    name = "invalid-gpu-sharing-config"
    severity = Severity.ERROR
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in sharing_index(graph).configs_of(resource):
            for key in (TIME_SLICING, MPS):
                for problem in _problems(config, key):
                    yield self.finding(resource, problem, path=config.finding_path)


def _problems(config: PluginConfig, key: str) -> Iterator[str]:
    sharing = config.raw.get("sharing")
    if not isinstance(sharing, Mapping) or sharing.get(key) is None:
        return
    base = ("sharing", key)
    block = sharing[key]
    refused = "the device plugin refuses the config"
    if not isinstance(block, Mapping):
        yield f"{config.describe(base)} is not a mapping: {refused}"
        return
    entries = block.get("resources")
    if not entries:
        yield (
            f"{config.describe(base)} has no resources: {refused} "
            '("no resources specified")'
        )
        return
    if not isinstance(entries, list):
        yield f"{config.describe((*base, 'resources'))} is not a list: {refused}"
        return
    for index, entry in enumerate(entries):
        where = config.describe((*base, "resources", index))
        if not isinstance(entry, Mapping):
            yield f"{where} is not a mapping: {refused}"
            continue
        name = entry.get("name")
        if "name" not in entry:
            yield f'{where} has no name: {refused} ("no resource name specified")'
            continue
        if not isinstance(name, str) or not name:
            yield f"{where}.name is {_shown(name)}, not a resource name: {refused}"
            continue
        devices = entry.get("devices")
        if isinstance(devices, str) and devices != "all":
            yield (
                f'{where}.devices is {_shown(devices)}: {refused} ("the only valid '
                "string input is 'all'\")"
            )
            continue
        if isinstance(devices, int) and not isinstance(devices, bool) and devices <= 0:
            yield (
                f'{where}.devices is {devices}: {refused} ("a count of devices '
                'must be > 0")'
            )
            continue
        if "replicas" not in entry:
            yield f'{where} has no replicas: {refused} ("no replicas specified")'
            continue
        replicas = entry["replicas"]
        if is_placeholder(replicas):
            continue
        count = 0 if replicas is None else as_int(replicas)
        if count is None:
            yield f"{where}.replicas is {_shown(replicas)}, not an integer: {refused}"
        elif count < 2:
            yield (
                f"{where}.replicas is {_shown(replicas)}: {refused} "
                '("number of replicas must be >= 2"); remove the sharing block '
                "to stop sharing"
            )


def _shown(value: object) -> str:
    """A YAML value as the manifest wrote it: ``null``, ``'4'``, ``1``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)

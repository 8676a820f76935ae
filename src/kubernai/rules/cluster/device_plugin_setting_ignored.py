"""CLU089 device-plugin-setting-ignored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.sharing import (
    MPS,
    SHARED_SUFFIX,
    TIME_SLICING,
    ClusterPolicyFacts,
    PluginConfig,
    full_resource_name,
    sharing_index,
)
from kubernai.rules.base import Finding, Rule, Severity

_BLOCK_KEYS = ("renameByDefault", "failRequestsGreaterThanOne")


class DevicePluginSettingIgnored(Rule):
    """NVIDIA device-plugin config setting that the plugin silently ignores.

    ## Mechanism
    Some settings of the device-plugin config parse but have no effect, so
    the cluster does something else than the config says:
    - `rename` on a `sharing.*.resources[]` entry: the plugin logs
      `Setting the 'rename' field in sharing.timeSlicing.resources is not
      yet supported in the config. Ignoring...` and advertises the resource
      under its own name (or `<name>.shared` with `renameByDefault: true`);
      pods that request the custom name never schedule;
    - `devices` other than `all` on such an entry (`Customizing the
      'devices' field ... Ignoring...`): every GPU of the node is shared;
    - `renameByDefault` or `failRequestsGreaterThanOne` written inside a
      `resources[]` entry instead of next to `resources`: unknown fields of
      an entry are dropped, so the default (false) applies;
    - top-level `resources` (custom resource names): `Customizing the
      'resources' field is not yet supported in the config. Ignoring...`;
    - `flags.migStrategy` in a ConfigMap that a GPU Operator ClusterPolicy
      names as its device-plugin config while the ClusterPolicy sets
      `spec.mig.strategy` to another value: the operator passes that value
      as `MIG_STRATEGY`, and a flag set by its environment variable wins
      over the config file.

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
                rename: nvidia.com/gpu-shared
                replicas: 4
                failRequestsGreaterThanOne: true
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
            renameByDefault: true
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ```

    ## References
    - NVIDIA/k8s-device-plugin api/config/v1/config.go (DisableResourceNamingInConfig)
    - NVIDIA/k8s-device-plugin api/config/v1/replicas.go (disableResoureRenaming)
    - NVIDIA/gpu-operator controllers/object_controls.go (applyMIGConfiguration)
    - NVIDIA/k8s-device-plugin api/config/v1/flags.go (UpdateFromCLIFlags)
    """

    code = "CLU089"
    name = "device-plugin-setting-ignored"
    severity = Severity.WARNING
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        index = sharing_index(graph)
        configs = index.configs_of(resource)
        if not configs:
            return
        policies = [p for p in index.policies_naming(resource) if p.mig_strategy]
        for config in configs:
            for message in _ignored(config, policies[0] if policies else None):
                yield self.finding(resource, message, path=config.finding_path)


def _ignored(config: PluginConfig, policy: ClusterPolicyFacts | None) -> Iterator[str]:
    for key in (TIME_SLICING, MPS):
        block = config.block(key)
        if block is None:
            continue
        for entry in block.resources:
            where = config.describe((*block.path, "resources", entry.index))
            yield from _ignored_in_entry(
                entry.raw, where, key, rename_by_default=block.rename_by_default
            )
    custom = config.raw.get("resources")
    if isinstance(custom, Mapping) and (custom.get("gpus") or custom.get("mig")):
        yield (
            f"data[{config.data_key}]: resources (custom resource names) is ignored: "
            "the plugin logs \"Customizing the 'resources' field is not yet "
            'supported in the config. Ignoring..."'
        )
    wanted = config.mig_strategy
    if policy is not None and wanted and wanted != policy.mig_strategy:
        yield (
            f"data[{config.data_key}] sets flags.migStrategy: {wanted}, but "
            f"ClusterPolicy {policy.resource.name} sets spec.mig.strategy: "
            f"{policy.mig_strategy}, which the operator passes as MIG_STRATEGY and "
            "which overrides the config"
        )


def _ignored_in_entry(
    raw: Mapping[str, object], where: str, key: str, *, rename_by_default: bool
) -> Iterator[str]:
    name, rename = raw.get("name"), raw.get("rename")
    if isinstance(name, str) and name and isinstance(rename, str) and rename:
        default = full_resource_name(name) + SHARED_SUFFIX
        if not (rename_by_default and full_resource_name(rename) == default):
            advertised = default if rename_by_default else full_resource_name(name)
            yield (
                f"{where}.rename is {rename}: the plugin ignores per-resource "
                f"renames (\"Setting the 'rename' field in sharing.{key}.resources "
                f'is not yet supported"), so the resource is advertised as '
                f"{advertised}; set renameByDefault: true for {default}"
            )
    devices = raw.get("devices")
    count = devices if isinstance(devices, int) and not isinstance(devices, bool) else 0
    if count > 0 or isinstance(devices, list):
        yield (
            f'{where}.devices is {devices!r}: the plugin ignores it ("Customizing '
            "the 'devices' field ... is not yet supported\") and shares every GPU "
            "of the node"
        )
    for misplaced in _BLOCK_KEYS:
        if misplaced in raw:
            mps_default = key == MPS and misplaced == "failRequestsGreaterThanOne"
            yield (
                f"{where} sets {misplaced}, which belongs next to resources in "
                f"sharing.{key}: inside an entry it is ignored and the default "
                f"({'true' if mps_default else 'false'}) applies"
            )

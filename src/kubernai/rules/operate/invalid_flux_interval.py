"""OPS025 invalid-flux-interval."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gitops import (
    FLUX_INTERVAL_PATTERN,
    FLUX_KINDS,
    flux_interval_required,
    is_flux_interval,
    is_flux_kustomization,
    is_whole_flux_object,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_map, get_path, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

_KUSTOMIZATION_DURATIONS = ("retryInterval", "timeout")
"""Optional Kustomization durations with the same CRD pattern as the interval."""


class InvalidFluxInterval(Rule):
    r"""Flux object without a spec.interval, or with one the API server rejects.

    ## Mechanism
    Flux Kustomization, HelmRelease, GitRepository, OCIRepository, Bucket
    and HelmChart CRDs mark `spec.interval` as required: it is the period at
    which the controller fetches, renders, applies and corrects drift, and
    there is no default. Every Flux duration must also match
    `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`, which is narrower than what Go
    accepts: no days (`1d`), no bare numbers (`300`), no spaces. The API
    server refuses such an object with
    `spec.interval: Required value` or
    `spec.interval in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'`,
    so `flux reconcile` of the parent Kustomization fails and everything
    after it in the dependency chain (GPU operator, model servers) stops
    updating. HelmRepository is the exception: its interval is optional and
    defaults to 1m.

    ## Example
    ```yaml
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata:
      name: gpu-operator
      namespace: flux-system
    spec:
      path: ./infrastructure/gpu-operator
      prune: true
      sourceRef:
        kind: GitRepository
        name: platform
    ```

    ## Use instead
    ```yaml
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata:
      name: gpu-operator
      namespace: flux-system
    spec:
      interval: 10m
      path: ./infrastructure/gpu-operator
      prune: true
      sourceRef:
        kind: GitRepository
        name: platform
    ```

    ## References
    - https://fluxcd.io/flux/components/kustomize/kustomizations/#interval
    - https://fluxcd.io/flux/components/helm/helmreleases/#interval
    - https://fluxcd.io/flux/components/source/gitrepositories/#interval
    - https://github.com/fluxcd/kustomize-controller/blob/main/api/v1/kustomization_types.go
    """

    code = "OPS025"
    name = "invalid-flux-interval"
    severity = Severity.ERROR
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = FLUX_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        required = flux_interval_required(resource)
        if required is None:
            return
        spec = get_map(resource.raw, "spec")
        if not spec and get_path(resource.raw, "spec") is not None:
            return  # a spec of the wrong shape fails for other reasons
        interval = spec.get("interval")
        if interval is None:
            if (
                required
                and is_whole_flux_object(resource)
                and not _has_twin(resource, graph)
            ):
                yield self.finding(
                    resource,
                    f"{resource.kind} has no spec.interval, which its CRD requires: "
                    "the API server refuses it (spec.interval: Required value)",
                    path=("spec",) if "spec" in resource.raw else (),
                )
            return
        fields = ["interval"]
        if is_flux_kustomization(resource):
            fields += [f for f in _KUSTOMIZATION_DURATIONS if f in spec]
        for field in fields:
            value = spec.get(field)
            if value is None or is_placeholder(value) or is_flux_interval(value):
                continue
            path: Path = ("spec", field)
            if isinstance(value, str):
                why = f"spec.{field} in body should match '{FLUX_INTERVAL_PATTERN}'"
            else:
                why = f"spec.{field} in body must be of type string"
            yield self.finding(
                resource,
                f"spec.{field} is {value!r}: the API server refuses it ({why}); "
                "write e.g. 10m or 1h30m",
                path=path,
            )


def _has_twin(resource: Resource, graph: ObjectGraph) -> bool:
    """Whether another object of the same kind and name sets an interval.

    Then this one is an overlay's copy or patch of it.
    """
    return any(
        other is not resource
        and other.name == resource.name
        and get_path(other.raw, "spec", "interval") is not None
        for other in graph.of_kind(resource.kind)
    )

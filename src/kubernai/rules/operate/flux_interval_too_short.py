"""OPS026 flux-interval-too-short."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.gitops import (
    HELM_GROUP,
    format_duration,
    is_flux_interval,
    is_flux_kustomization,
    parse_go_duration,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity

MIN_INTERVAL_S = Fraction(60)
"""Flux docs: "The minimum value should be 60 seconds" (Kustomization v1; also
the HelmRelease v2beta1 spec)."""


class FluxIntervalTooShort(Rule):
    """Flux Kustomization or HelmRelease reconciled more often than once a minute.

    ## Mechanism
    At every `spec.interval` the kustomize-controller builds the whole
    Kustomization, runs a server-side apply dry-run of every object against
    the API server and corrects drift; the helm-controller checks the
    release against its chart and values (and, with drift detection on,
    against the cluster). A change in Git already triggers a
    reconciliation as soon as the source revision moves (the interval of the
    GitRepository or OCIRepository sets how fast that is noticed), so a short
    interval on the Kustomization or HelmRelease buys nothing but load. The
    kustomize-controller and the helm-controller each run 4 reconciliations
    at a time by default (`--concurrent=4`), so a few large AI stacks (GPU
    operator, KServe, Kueue, monitoring) on `10s` keep the queue full and
    delay everything else behind them. The Flux documentation says the
    minimum value should be 60 seconds; 5-10 minutes is common, with a
    shorter interval on the source.

    ## Example
    ```yaml
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata:
      name: gpu-operator
      namespace: gpu-operator
    spec:
      interval: 10s
      chart:
        spec:
          chart: gpu-operator
          sourceRef:
            kind: HelmRepository
            name: nvidia
    ```

    ## Use instead
    ```yaml
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata:
      name: gpu-operator
      namespace: gpu-operator
    spec:
      interval: 10m
      chart:
        spec:
          chart: gpu-operator
          sourceRef:
            kind: HelmRepository
            name: nvidia
    ```

    ## References
    - https://fluxcd.io/flux/components/kustomize/kustomizations/#interval
    - https://fluxcd.io/flux/components/kustomize/options/
    - https://fluxcd.io/flux/components/helm/helmreleases/#interval
    - https://github.com/fluxcd/kustomize-controller/blob/main/main.go
    """

    code = "OPS026"
    name = "flux-interval-too-short"
    severity = Severity.WARNING
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"Kustomization", "HelmRelease"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not (
            is_flux_kustomization(resource)
            or (resource.kind == "HelmRelease" and resource.group == HELM_GROUP)
        ):
            return
        value = get_path(resource.raw, "spec", "interval")
        if not is_flux_interval(value):
            return  # missing or malformed: invalid-flux-interval
        seconds = parse_go_duration(value)
        if seconds is None or not 0 < seconds < MIN_INTERVAL_S:
            return  # 0 stops periodic requeues rather than speeding them up
        yield self.finding(
            resource,
            f"spec.interval is {value!r} ({format_duration(seconds)}): the "
            f"{resource.kind} is reconciled more than once a minute; "
            "Flux documents 60s as the minimum",
            path=("spec", "interval"),
        )

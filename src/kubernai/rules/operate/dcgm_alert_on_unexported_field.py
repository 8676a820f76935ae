"""OPS051 dcgm-alert-on-unexported-field."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.dcgm import (
    configmap_metrics,
    every_builtin_metric,
    exported_metrics,
    is_dcgm_metric,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.promql import recorded_metrics, rule_exprs, selectors
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class DcgmAlertOnUnexportedField(Rule):
    """Prometheus rule reads a DCGM field that the DCGM exporter does not export.

    ## Mechanism
    dcgm-exporter exports only the fields enabled in its counters CSV: the
    file named by `-f` / `DCGM_EXPORTER_COLLECTORS` (the image's
    `/etc/dcgm-exporter/default-counters.csv` by default; the GPU Operator
    uses `dcp-metrics-included.csv`, the same list since 4.0.0), or the
    `metrics` key of the ConfigMap named by `-m`. The default list leaves out
    ECC error counts (`DCGM_FI_DEV_ECC_DBE_VOL_TOTAL` ...), retired pages,
    NVLink error counters, throttle durations (`*_VIOLATION`),
    `DCGM_FI_PROF_SM_ACTIVE` / `SM_OCCUPANCY` and the exporter's own
    `DCGM_EXP_XID_ERRORS_COUNT`; releases before 4.0.0 also leave out
    `DCGM_FI_PROF_GR_ENGINE_ACTIVE`, `PIPE_TENSOR_ACTIVE` and `DRAM_ACTIVE`.
    An alert on a series that never exists evaluates to nothing: it never
    fires, and Prometheus reports no error, so the GPU failure it was written
    for goes unnoticed. The exporter's counters list is read from the input
    (its DaemonSet or the GPU Operator's ClusterPolicy, and the ConfigMap it
    reads); with no exporter in the input, the built-in lists of every
    release are assumed.

    ## Example
    ```yaml
    apiVersion: monitoring.coreos.com/v1
    kind: PrometheusRule
    metadata:
      name: gpu-alerts
      namespace: monitoring
    spec:
      groups:
        - name: gpu
          rules:
            - alert: GpuDoubleBitEccErrors
              expr: increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m]) > 0
              labels: {severity: critical}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: dcgm-metrics
      namespace: monitoring
    data:
      metrics: |
        DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).
        DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.
        DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Double-bit volatile ECC errors.
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: dcgm-exporter
      namespace: monitoring
    spec:
      selector:
        matchLabels: {app: dcgm-exporter}
      template:
        metadata:
          labels: {app: dcgm-exporter}
        spec:
          containers:
            - name: dcgm-exporter
              image: nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless
              args: ["-m", "monitoring:dcgm-metrics"]
    ---
    apiVersion: monitoring.coreos.com/v1
    kind: PrometheusRule
    metadata:
      name: gpu-alerts
      namespace: monitoring
    spec:
      groups:
        - name: gpu
          rules:
            - alert: GpuDoubleBitEccErrors
              expr: increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m]) > 0
              labels: {severity: critical}
    ```

    ## References
    - NVIDIA/dcgm-exporter etc/default-counters.csv and
      etc/dcp-metrics-included.csv (their history by release tag)
    - NVIDIA/dcgm-exporter pkg/cmd/app.go (`--collectors`, `--configmap-data`)
      and internal/pkg/counters/counter_config.go
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-telemetry/latest/dcgm-exporter.html
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/getting-started.html
    """

    code = "OPS051"
    name = "dcgm-alert-on-unexported-field"
    severity = Severity.WARNING
    mechanism = "dcgm-exporter-metrics"
    kinds = frozenset({"PrometheusRule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        rules = rule_exprs(resource)
        if not rules:
            return
        exporters = exported_metrics(graph)
        if any(e.metrics is None for e in exporters):
            return  # one exporter's list depends on what the input lacks
        recorded = recorded_metrics(graph)
        if exporters:
            exported = frozenset().union(*(e.metrics or () for e in exporters))
            others = f" and {len(exporters) - 1} more" if len(exporters) > 1 else ""
            basis = f"{exporters[0].source}{others} does not export it"
        else:
            exported = every_builtin_metric() | configmap_metrics(graph)
            basis = (
                "no dcgm-exporter release enables it by default (assumed: no "
                "exporter in the input; add the field to the exporter's "
                "counters CSV)"
            )
        for rule in rules:
            if rule.parsed is None:
                continue
            seen: set[str] = set()
            for selector in selectors(rule.parsed):
                name = selector.name
                if (
                    name in seen
                    or not is_dcgm_metric(name)
                    or name in exported
                    or name in recorded
                ):
                    continue
                seen.add(name)
                yield self.finding(
                    resource,
                    f"{rule.label} reads {name}, but {basis}: the series never exists",
                    path=rule.path,
                )

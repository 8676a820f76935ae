"""OPS052 dcgm-alert-threshold-in-wrong-unit."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.dcgm import field, unit
from kubernai.model.graph import ObjectGraph
from kubernai.model.promql import comparisons, rule_exprs
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class DcgmAlertThresholdInWrongUnit(Rule):
    """Alert compares a DCGM metric with a threshold written in another unit.

    ## Mechanism
    Each DCGM field has one unit, and dcgm-exporter exports it unscaled:
    `DCGM_FI_DEV_GPU_UTIL` and the other `*_UTIL` fields are percentages of
    0–100, the profiling fields `DCGM_FI_PROF_*_ACTIVE` and
    `DCGM_FI_PROF_SM_OCCUPANCY` are ratios of 0–1, framebuffer fields
    (`DCGM_FI_DEV_FB_USED`, `FB_FREE`, `FB_RESERVED`) are MiB, temperatures
    degrees Celsius, power watts and clocks MHz. A threshold written in the
    wrong unit makes an alert that can never fire
    (`DCGM_FI_PROF_GR_ENGINE_ACTIVE > 80`, `DCGM_FI_DEV_FB_USED > 70e9`) or
    one that fires all the time (`DCGM_FI_DEV_GPU_UTIL > 0.9` fires at 1 %,
    `DCGM_FI_PROF_GR_ENGINE_ACTIVE < 10` always). The check reads the
    expression with a PromQL parser and follows the metric through functions
    and aggregations that keep its unit (`avg`, `max`, `avg_over_time` ...)
    and through multiplication or division by a number, so
    `DCGM_FI_PROF_GR_ENGINE_ACTIVE * 100 > 80` is read as 0.8. A threshold is
    reported when no value of the unit can reach it, or when it is a fraction
    where the unit counts in whole steps.

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
            - alert: GpuIdle
              expr: avg_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE[30m]) < 5
              for: 1h
              labels: {severity: info}
    ```

    ## Use instead
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
            - alert: GpuIdle
              expr: avg_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE[30m]) < 0.05
              for: 1h
              labels: {severity: info}
    ```

    ## References
    - NVIDIA/dcgm-exporter etc/default-counters.csv (help texts: "(in %)",
      "Ratio of ...", "(in MiB)", "(in C)", "(in W)", "(in MHz)")
    - NVIDIA/DCGM dcgmlib/dcgm_fields.h
    - https://docs.nvidia.com/datacenter/dcgm/latest/user-guide/feature-overview.html#profiling-metrics
    """

    code = "OPS052"
    name = "dcgm-alert-threshold-in-wrong-unit"
    severity = Severity.ERROR
    mechanism = "dcgm-exporter-metrics"
    kinds = frozenset({"PrometheusRule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for rule in rule_exprs(resource):
            if rule.kind != "alert" or rule.parsed is None:
                continue
            for comparison in comparisons(rule.parsed):
                known = field(comparison.metric)
                bounds = unit(known.unit) if known else None
                if bounds is None:
                    continue
                value = comparison.threshold
                if value > bounds.max:
                    why = bounds.too_high
                elif 0 < value < bounds.least_nonzero:
                    why = bounds.too_low
                else:
                    continue
                scaled = (
                    f" (the metric times {_number(comparison.scale)}: "
                    f"{_number(value)} in its own unit)"
                    if comparison.scale != 1
                    else ""
                )
                yield self.finding(
                    resource,
                    f"{rule.label} compares {comparison.metric} "
                    f"({_describe(bounds.name)}) {comparison.op} "
                    f"{_number(comparison.written)}{scaled}: {why}",
                    path=rule.path,
                )


def _describe(name: str) -> str:
    return {"%": "0-100 %", "ratio": "a 0-1 ratio", "°C": "°C"}.get(name, name)


def _number(value: float) -> str:
    return f"{value:g}"

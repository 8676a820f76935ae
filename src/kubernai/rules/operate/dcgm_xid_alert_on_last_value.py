"""OPS053 dcgm-xid-alert-on-last-value."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.promql import rule_exprs, selectors
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

XID_FIELD = "DCGM_FI_DEV_XID_ERRORS"
XID_COUNT = "DCGM_EXP_XID_ERRORS_COUNT"
CHANGE_FUNCTIONS = frozenset(
    {"changes", "resets", "delta", "idelta", "increase", "rate", "irate", "deriv"}
)
"""Functions that look at how the gauge moved rather than at its value."""
PRESENCE_FUNCTIONS = frozenset(
    {
        "absent",
        "absent_over_time",
        "present_over_time",
        "count",
        "count_over_time",
        "group",
        "timestamp",
    }
)
"""Functions that ask whether the series exists, not what it holds."""


class DcgmXidAlertOnLastValue(Rule):
    """XID alert fires on the value of DCGM_FI_DEV_XID_ERRORS instead of its changes.

    ## Mechanism
    `DCGM_FI_DEV_XID_ERRORS` is not a count of errors: it is a gauge holding
    the code of the last XID the GPU reported ("Value of the last XID error
    encountered"; DCGM: "The value is the specific XID error"). It keeps that
    code after the error is over, until another XID replaces it or the
    exporter restarts (NVIDIA/dcgm-exporter#500, NVIDIA/DCGM#277). An alert
    on its value (`DCGM_FI_DEV_XID_ERRORS > 0`, `== 79`, `max_over_time(...)`)
    therefore fires once and then stays firing for days after a one-off
    application fault such as XID 13 or 31, and it cannot see the next error
    with the same code, so a GPU that fails again looks unchanged. Alert on
    the gauge changing (`changes(DCGM_FI_DEV_XID_ERRORS[5m]) > 0`) and read
    the code from its value, or enable the exporter's
    `DCGM_EXP_XID_ERRORS_COUNT` (XIDs per code within a window) in the
    counters CSV.

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
            - alert: GpuXidError
              expr: DCGM_FI_DEV_XID_ERRORS > 0
              labels: {severity: critical}
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
            - alert: GpuXidError
              expr: >-
                changes(DCGM_FI_DEV_XID_ERRORS[5m]) > 0
                and DCGM_FI_DEV_XID_ERRORS != 0
              labels: {severity: critical}
    ```

    ## References
    - NVIDIA/dcgm-exporter etc/default-counters.csv (`DCGM_FI_DEV_XID_ERRORS,
      gauge, Value of the last XID error encountered.`)
    - https://github.com/NVIDIA/dcgm-exporter/issues/500
    - https://github.com/NVIDIA/DCGM/issues/277
    - https://github.com/NVIDIA/dcgm-exporter/pull/239 (`DCGM_EXP_XID_ERRORS_COUNT`)
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    """

    code = "OPS053"
    name = "dcgm-xid-alert-on-last-value"
    severity = Severity.WARNING
    mechanism = "dcgm-exporter-metrics"
    kinds = frozenset({"PrometheusRule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for rule in rule_exprs(resource):
            if rule.kind != "alert" or rule.parsed is None:
                continue
            reads = list(selectors(rule.parsed))
            xid = [s for s in reads if s.name == XID_FIELD]
            if not xid or any(s.name == XID_COUNT for s in reads):
                continue
            if any(CHANGE_FUNCTIONS.intersection(s.enclosing) for s in xid):
                continue
            if all(PRESENCE_FUNCTIONS.intersection(s.enclosing) for s in xid):
                continue
            yield self.finding(
                resource,
                f"{rule.label} fires on the value of {XID_FIELD}, the last XID code, "
                "which stays set after the error: it keeps firing and misses a "
                "repeat of the same XID; use changes() on it",
                path=rule.path,
            )

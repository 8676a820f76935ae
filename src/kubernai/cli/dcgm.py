"""``kubernai dcgm rules``: a PrometheusRule with the DCGM alerts that matter.

``add_dcgm_command`` adds the parser to the top-level subparsers; ``run_dcgm``
runs it and returns the exit code. The alerts read metrics as dcgm-exporter
exports them: XID errors through ``changes()`` (the gauge holds the last XID
code), profiling-free fields, thresholds in each field's own unit. Some need a
field that the exporter's default counters CSV leaves out; the YAML output
lists the CSV lines to add, and ``--default-counters`` leaves those alerts out.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, TextIO

from kubernai.errors import EXIT_CLEAN, EXIT_USAGE

XID = "DCGM_FI_DEV_XID_ERRORS"
XID_RESET = (48, 62, 64, 74, 79, 95, 119, 120)
"""XIDs after which the GPU must be reset or the node rebooted (NVIDIA Xid
catalog: double-bit ECC, PMU halt, InfoROM retirement failure, NVLink error,
fallen off the bus, uncontained ECC error, GSP RPC timeout and GSP error)."""
_XID_RESET_MATCH = " or ".join(f"{XID} == {code}" for code in XID_RESET)
_WHERE = (
    "GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on "
    "{{ $labels.Hostname }}{{ $labels.hostname }}"
)
"""Both spellings: released exporters label ``Hostname``, master ``hostname``."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alerting rule of the generated PrometheusRule."""

    name: str
    expr: str
    severity: str
    summary: str
    description: str
    runbook: str
    for_: str = ""
    needs: tuple[str, ...] = ()
    """Fields outside dcgm-exporter's default counters CSV."""


EXTRA_COUNTERS = {
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": (
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, "
        "Total number of double-bit volatile ECC errors."
    ),
    "DCGM_FI_DEV_ROW_REMAP_PENDING": (
        "DCGM_FI_DEV_ROW_REMAP_PENDING, gauge, Whether remapping of rows is pending."
    ),
    "DCGM_FI_DEV_THERMAL_VIOLATION": (
        "DCGM_FI_DEV_THERMAL_VIOLATION, counter, "
        "Throttling duration due to thermal constraints (in ns)."
    ),
    "DCGM_FI_DEV_POWER_VIOLATION": (
        "DCGM_FI_DEV_POWER_VIOLATION, counter, "
        "Throttling duration due to power constraints (in ns)."
    ),
}
"""CSV lines for the fields some alerts need (as NVIDIA's CSVs write them)."""

ALERTS = (
    Alert(
        name="GpuXidNeedsReset",
        expr=f"({_XID_RESET_MATCH}) and changes({XID}[10m]) > 0",
        severity="critical",
        summary="GPU reported XID {{ $value }}: reset the GPU or reboot the node",
        description=(
            f"{_WHERE} reported XID {{{{ $value }}}}, an error the GPU does not "
            "recover from by itself."
        ),
        runbook=(
            "Cordon and drain the node. XID 79 (fallen off the bus) needs a reboot; "
            "48, 62, 64, 95, 119 and 120 need a GPU reset (nvidia-smi -r once no "
            "process uses it) or a reboot; 74 is an NVLink error, check the links "
            "with nvidia-smi nvlink -e. If it comes back after the reset, take the "
            "GPU out of service and open a hardware case."
        ),
    ),
    Alert(
        name="GpuXidError",
        expr=f"({XID} != 0 and changes({XID}[10m]) > 0) unless ({_XID_RESET_MATCH})",
        severity="warning",
        summary="GPU reported XID {{ $value }}",
        description=(
            f"{_WHERE} reported XID {{{{ $value }}}}. XIDs 13, 31 and 43 are "
            "usually faults of the application on the GPU."
        ),
        runbook=(
            "Find the pod on the GPU (pod and namespace labels) and read its log "
            "and the node's kernel log (dmesg | grep -i xid). An application XID "
            "needs no action on the node; repeated XIDs from several workloads on "
            "one GPU point to the GPU."
        ),
    ),
    Alert(
        name="GpuDoubleBitEccErrors",
        expr="increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m]) > 0",
        severity="critical",
        summary="GPU had uncorrectable (double-bit) ECC errors",
        description=(
            f"{_WHERE} had {{{{ $value }}}} double-bit ECC errors in 10 minutes; "
            "the data of the process on it is lost."
        ),
        runbook=(
            "Drain the node and reset the GPU so that the driver retires or "
            "remaps the failing memory; check DCGM_FI_DEV_ROW_REMAP_FAILURE "
            "afterwards. Restart the affected job from its last checkpoint."
        ),
        needs=("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",),
    ),
    Alert(
        name="GpuRowRemapFailed",
        expr="DCGM_FI_DEV_ROW_REMAP_FAILURE > 0",
        severity="critical",
        summary="GPU could not remap a failing memory row",
        description=f"{_WHERE} failed to remap a row of its memory.",
        runbook=(
            "The GPU has run out of spare memory rows: take it out of service "
            "(cordon the node) and open a hardware case (RMA)."
        ),
    ),
    Alert(
        name="GpuRowRemapPending",
        expr="DCGM_FI_DEV_ROW_REMAP_PENDING > 0",
        severity="warning",
        for_="5m",
        summary="GPU has a memory row remap waiting for a GPU reset",
        description=(
            f"{_WHERE} has a pending row remap; it takes effect at the next GPU reset."
        ),
        runbook=(
            "Drain the node when convenient and reset the GPU (or reboot) to "
            "apply the remap."
        ),
        needs=("DCGM_FI_DEV_ROW_REMAP_PENDING",),
    ),
    Alert(
        name="GpuUncorrectableRowRemap",
        expr="increase(DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS[1h]) > 0",
        severity="warning",
        summary="GPU remapped memory rows after uncorrectable errors",
        description=(
            f"{_WHERE} remapped {{{{ $value }}}} memory rows for uncorrectable "
            "errors in the last hour."
        ),
        runbook=(
            "An uncorrectable memory error hit the GPU; the remap is applied at "
            "the next GPU reset. Drain the node and reset the GPU."
        ),
    ),
    Alert(
        name="GpuTemperatureHigh",
        expr="DCGM_FI_DEV_GPU_TEMP > 85",
        severity="warning",
        for_="10m",
        summary="GPU temperature above 85 °C for 10 minutes",
        description=f"{_WHERE} is at {{{{ $value }}}} °C.",
        runbook=(
            "Compare with the GPU's slowdown temperature (nvidia-smi -q -d "
            "TEMPERATURE); check the node's fans, airflow and inlet temperature. "
            "Adjust 85 °C to the product."
        ),
    ),
    Alert(
        name="GpuMemoryTemperatureHigh",
        expr="DCGM_FI_DEV_MEMORY_TEMP > 95",
        severity="warning",
        for_="10m",
        summary="GPU memory temperature above 95 °C for 10 minutes",
        description=f"{_WHERE} memory is at {{{{ $value }}}} °C.",
        runbook=(
            "HBM slows down near its maximum operating temperature (nvidia-smi -q "
            "-d TEMPERATURE); check the node's cooling."
        ),
    ),
    Alert(
        name="GpuThermalThrottling",
        expr="rate(DCGM_FI_DEV_THERMAL_VIOLATION[5m]) > 0",
        severity="warning",
        for_="10m",
        summary="GPU clocks held down by temperature",
        description=f"{_WHERE} has been throttled for temperature for 10 minutes.",
        runbook=(
            "The GPU runs slower than it can: check cooling, and whether the "
            "workload's throughput dropped."
        ),
        needs=("DCGM_FI_DEV_THERMAL_VIOLATION",),
    ),
    Alert(
        name="GpuPowerThrottling",
        expr="rate(DCGM_FI_DEV_POWER_VIOLATION[5m]) > 0",
        severity="info",
        for_="30m",
        summary="GPU clocks held down by its power limit",
        description=(f"{_WHERE} has been held at its power limit for 30 minutes."),
        runbook=(
            "Usual under full load; check that the power limit (nvidia-smi -q -d "
            "POWER) is the product's default and that the node's power supply is "
            "not capping it."
        ),
        needs=("DCGM_FI_DEV_POWER_VIOLATION",),
    ),
    Alert(
        name="GpuPcieReplays",
        expr="rate(DCGM_FI_DEV_PCIE_REPLAY_COUNTER[5m]) > 0",
        severity="warning",
        for_="15m",
        summary="GPU PCIe link is replaying packets",
        description=f"{_WHERE} has retried PCIe transfers for 15 minutes.",
        runbook=(
            "A degraded PCIe link (riser, cable, slot): compare the link width "
            "and speed with nvidia-smi -q -d PCIE, reseat or replace."
        ),
    ),
)


def add_dcgm_command(commands: Any) -> None:
    """Add ``dcgm rules`` to the top-level subparsers ``commands``."""
    dcgm = commands.add_parser(
        "dcgm",
        help="DCGM exporter: print Prometheus alerts for GPU health",
        description="Tools for NVIDIA's DCGM exporter.",
    )
    actions = dcgm.add_subparsers(
        dest="dcgm_command", metavar="ACTION", parser_class=type(dcgm)
    )
    rules = actions.add_parser(
        "rules",
        help="print a PrometheusRule with the GPU alerts that matter",
        description=(
            "Print a PrometheusRule (monitoring.coreos.com/v1) with alerts on XID "
            "errors, double-bit ECC errors, row remapping, temperature, "
            "throttling and PCIe replays, read as dcgm-exporter exports them."
        ),
        epilog=(
            "Some alerts need fields outside the exporter's default counters "
            "CSV; the YAML output lists the lines to add. --default-counters "
            "leaves those alerts out."
        ),
    )
    rules.add_argument(
        "-f", "--format", choices=("yaml", "json"), default="yaml", help="default: yaml"
    )
    rules.add_argument(
        "-n",
        "--namespace",
        default="monitoring",
        metavar="NS",
        help="namespace of the PrometheusRule (default: monitoring)",
    )
    rules.add_argument(
        "--name", default="dcgm-gpu-alerts", help="name of the PrometheusRule"
    )
    rules.add_argument(
        "--default-counters",
        action="store_true",
        help="only alerts on fields the default counters CSV exports",
    )
    dcgm.set_defaults(dcgm_parser=dcgm)


def run_dcgm(args: argparse.Namespace, *, stdout: TextIO) -> int:
    """Run ``kubernai dcgm ACTION``; returns the exit code.

    Args:
        args: the parsed command line (``dcgm_command``, ``format``,
            ``namespace``, ``name``, ``default_counters``).
        stdout: where the PrometheusRule is written.

    Returns:
        0, or 2 without an action (the help is printed).
    """
    if getattr(args, "dcgm_command", None) != "rules":
        parser = getattr(args, "dcgm_parser", None)
        if parser is not None:
            parser.print_help(stdout)
        return EXIT_USAGE
    alerts = [a for a in ALERTS if not (args.default_counters and a.needs)]
    rule = prometheus_rule(alerts, namespace=args.namespace, name=args.name)
    if args.format == "json":
        stdout.write(json.dumps(rule, indent=2, ensure_ascii=False) + "\n")
        return EXIT_CLEAN
    import yaml

    needed = sorted({field for alert in alerts for field in alert.needs})
    if needed:
        stdout.write(
            "# Alerts here read fields outside dcgm-exporter's default counters "
            "CSV.\n# Add these lines to the exporter's counters CSV (-f / "
            "DCGM_EXPORTER_COLLECTORS,\n# -m ConfigMap, or the GPU Operator's "
            "dcgmExporter.config), or run\n# `kubernai dcgm rules "
            "--default-counters` to leave those alerts out:\n"
        )
        stdout.writelines(f"#   {EXTRA_COUNTERS[field]}\n" for field in needed)
    stdout.write(yaml.safe_dump(rule, sort_keys=False, allow_unicode=True, width=2**16))
    return EXIT_CLEAN


def prometheus_rule(
    alerts: list[Alert], *, namespace: str, name: str
) -> dict[str, Any]:
    """The PrometheusRule holding ``alerts`` as one rule group."""
    rules = []
    for alert in alerts:
        entry: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
        if alert.for_:
            entry["for"] = alert.for_
        entry["labels"] = {"severity": alert.severity}
        entry["annotations"] = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook": alert.runbook,
        }
        rules.append(entry)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubernai"},
        },
        "spec": {"groups": [{"name": "dcgm-gpu-health", "rules": rules}]},
    }

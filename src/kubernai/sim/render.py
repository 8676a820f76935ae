"""The text report of a simulation."""

from __future__ import annotations

from kubernai.sim.result import (
    PENDING,
    PREEMPTED,
    REJECTED,
    SCHEDULED,
    SimulationResult,
)


def _table(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]


def render_text(result: SimulationResult, *, explain: bool = False) -> str:
    """Placement table, pending pods with messages, GPU use, fragmentation."""
    summary = result.summary
    lines = [
        f"Simulated {summary['pods']} pods on {summary['nodes']} nodes "
        f"(Kubernetes {summary['k8s_version']}, seed {summary['seed']}): "
        f"{summary['scheduled']} scheduled, {summary['pending']} pending, "
        f"{summary['rejected']} rejected at admission, "
        f"{summary['preempted']} running pods preempted.",
        "",
    ]
    placed = [p for p in result.pods if p.status == SCHEDULED]
    if placed:
        rows = [["POD", "WORKLOAD", "PRIORITY", "NODE"]]
        rows += [[f"{p.namespace}/{p.name}", p.workload, str(p.priority),
                  p.node or ""] for p in placed]  # fmt: skip
        lines += ["Scheduled:", *("  " + line for line in _table(rows)), ""]
        for pod in placed:
            if pod.victims:
                lines.append(
                    f"  {pod.namespace}/{pod.name} preempted "
                    f"{', '.join(pod.victims)} on {pod.nominated_node}"
                )
        if any(p.victims for p in placed):
            lines.append("")
    for title, status in (("Pending", PENDING), ("Rejected at admission", REJECTED),
                          ("Preempted", PREEMPTED)):  # fmt: skip
        chosen = [p for p in result.pods if p.status == status]
        if not chosen:
            continue
        lines.append(f"{title}:")
        for pod in chosen:
            lines.append(f"  {pod.namespace}/{pod.name} ({pod.workload})")
            if pod.message:
                lines.append(f"    {pod.message}")
        lines.append("")
    if result.gangs:
        lines.append("Gangs:")
        for gang in result.gangs:
            lines.append(
                f"  {gang.namespace}/{gang.name} queue {gang.queue}: {gang.phase}, "
                f"{gang.scheduled}/{gang.pods} pods placed, minMember {gang.min_member}"
            )
            if gang.message:
                lines.append(f"    {gang.message}")
        lines.append("")
    gpu_nodes = [n for n in result.nodes if n.resources]
    if gpu_nodes:
        rows = [["NODE", "PRODUCT", "ACCELERATORS (requested/allocatable)"]]
        for node in gpu_nodes:
            use = ", ".join(
                f"{name} {used}/{total}"
                for name, (used, total) in node.resources.items()
            )
            rows.append([node.name, node.product or "-", use])
        lines += [
            "Accelerator use per node:",
            *("  " + line for line in _table(rows)),
            "",
        ]
    for name, numbers in summary.get("accelerators", {}).items():
        lines.append(
            f"{name}: {numbers['requested']}/{numbers['allocatable']} requested, "
            f"{numbers['free']} free; {numbers['stranded']} free on nodes where no "
            "pending pod asking for it fits (fragmentation)."
        )
    if explain:
        lines.append("")
        lines.append("Explanation (per pod: filter reasons, then scores):")
        for pod in result.pods:
            if pod.filter is None and pod.scores is None:
                continue
            lines.append(f"  {pod.namespace}/{pod.name}:")
            for name, reason in (pod.filter or {}).items():
                lines.append(f"    {name}: {reason}")
            for name, scores in (pod.scores or {}).items():
                parts = ", ".join(f"{k} {v}" for k, v in scores.items())
                lines.append(f"    {name}: {parts}")
    return "\n".join(lines).rstrip() + "\n"

"""The scheduler's reason strings and the aggregated ``0/N nodes are available`` text.

Strings are kube-scheduler's, v1.31 to v1.34 (``reference/scheduler.md`` §3):
per-plugin reasons, ``FitError.Error()`` (a histogram of ``"<count>
<reason>"`` strings sorted as strings, so ``"10 X"`` sorts before ``"2 Y"``)
and the ``preemption: ...`` suffix that DefaultPreemption adds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import IntEnum

from kubernai.model.gpu import Taint

SUPPORTED_VERSIONS = (31, 32, 33, 34)
DEFAULT_VERSION = 33

UNSCHEDULABLE = "node(s) were unschedulable"
NODE_NAME = "node(s) didn't match the requested node name"
AFFINITY_POD = "node(s) didn't match Pod's node affinity/selector"
AFFINITY_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
AFFINITY_CONFLICT = "pod affinity terms conflict"
PREFILTER_ABSENT = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
PORTS = "node(s) didn't have free ports for the requested pod ports"
TOO_MANY_PODS = "Too many pods"
SPREAD = "node(s) didn't match pod topology spread constraints"
SPREAD_LABEL = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
POD_AFFINITY = "node(s) didn't match pod affinity rules"
POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
NO_NODES = "no nodes available to schedule pods"

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
PREEMPTION_PREFIX = "preemption: "


class Code(IntEnum):
    """A filter status code."""

    SUCCESS = 0
    UNSCHEDULABLE = 1
    UNRESOLVABLE = 2
    """``UnschedulableAndUnresolvable``: preemption cannot help on this node."""


def insufficient(resource: str) -> str:
    """``NodeResourcesFit``'s reason for one resource."""
    return f"Insufficient {resource}"


def untolerated(taint: Taint, version: int) -> str:
    """``TaintToleration``'s reason, naming the first untolerated taint (≤ v1.34)."""
    del version  # the key-less "taint(s)" form is v1.35 (and late v1.34.x patches)
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value or ''}}}"


def histogram(counts: Counter[str]) -> list[str]:
    """``"<count> <reason>"`` entries, sorted as strings (``sort.Strings``)."""
    return sorted(f"{count} {reason}" for reason, count in counts.items() if count)


def fit_error(
    num_nodes: int,
    reasons: Counter[str],
    *,
    prefilter: str = "",
    postfilter: str = "",
) -> str:
    """``FitError.Error()`` of v1.29 and later (one period, no double ``..``)."""
    text = f"0/{num_nodes} nodes are available:"
    if prefilter:
        text += f" {prefilter}."
    else:
        entries = histogram(reasons)
        if entries:
            text += " " + ", ".join(entries) + "."
    if postfilter:
        text += f" {postfilter}"
    return text


def count_reasons(statuses: Iterable[tuple[str, ...]]) -> Counter[str]:
    """Count every reason of every node status (a node may give several)."""
    counts: Counter[str] = Counter()
    for reasons in statuses:
        counts.update(reasons)
    return counts


def truncate_event(message: str) -> str:
    """An event note is cut at 1024 characters, ending in ``" ..."``."""
    limit = 1024
    if len(message) <= limit:
        return message
    return message[: limit - 4] + " ..."

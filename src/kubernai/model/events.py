"""Kubernetes Events, and the GPU failure messages they carry, read and parsed.

An Event says what happened (``reason``, ``message``), to which object, how often
and when. Two API versions hold the same record under different names:

- the object: ``involvedObject`` (core/v1) or ``regarding`` (events.k8s.io/v1);
- the text: ``message`` or ``note``;
- how often: ``count`` or ``series.count`` (``deprecatedCount``);
- last seen: ``lastTimestamp`` or ``series.lastObservedTime``
  (``deprecatedLastTimestamp``); first seen: ``firstTimestamp``
  (``deprecatedFirstTimestamp``), else ``eventTime``;
- who: ``source.component`` or ``reportingController`` (``reportingComponent``,
  ``deprecatedSource.component``); where: ``source.host``.

(kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1 and
``.../events/``). :func:`events_about` indexes the Events of an input by the
object they are about, once per input.

It also parses the scheduler's ``FailedScheduling`` summary,
:func:`parse_scheduling_failure`:
  ``0/<N> nodes are available: <count> <reason>, ... preemption: ...``
  (kubernetes ``pkg/scheduler/framework/types.go`` ``FitError.Error``), with the
  reason strings of the filter plugins (``noderesources/fit.go``: ``Insufficient
  <resource>``, ``Too many pods``; ``tainttoleration``: ``node(s) had untolerated
  taint {<key>: <value>}``, ``node(s) had untolerated taint(s)`` from v1.35 and
  ``node(s) had taint {<key>: <value>}, that the pod didn't tolerate`` up to v1.23;
  ``nodeaffinity``: ``node(s) didn't match Pod's node affinity/selector``, before
  v1.21 ``... Pod's node affinity`` and ``node(s) didn't match node selector``;
  ``nodeunschedulable``: ``node(s) were unschedulable``; ``interpodaffinity`` and
  ``podtopologyspread`` reasons). Volcano writes ``0/<N> nodes are unavailable:``,
  the cluster autoscaler ``pod didn't trigger scale-up: <count> <reason>, ...``;
  events are cut at 1024 characters and end in `` ...`` then.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_map, get_path, get_str
from kubernai.model.workload import memoised

EVENT_GROUPS = frozenset({"", "events.k8s.io"})
"""API groups whose ``Event`` kind is a Kubernetes Event."""

# -- timestamps ------------------------------------------------------------------


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 ``Time`` or ``MicroTime`` as an aware datetime; else ``None``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- one Event ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """The object an Event is about."""

    kind: str
    namespace: str
    name: str
    uid: str = ""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One Event, whatever its API version."""

    resource: Resource
    reason: str
    message: str
    message_path: Path
    """Where the text is in the Event (``message`` or ``note``)."""
    type: str
    about: ObjectKey
    count: int
    """How often it happened (at least 1)."""
    first_seen: datetime | None
    last_seen: datetime | None
    component: str
    """Who reported it: ``default-scheduler``, ``kubelet``..."""
    host: str
    """The node, for kubelet events (``source.host``)."""


def is_event(resource: Resource) -> bool:
    """A core/v1 or events.k8s.io Event."""
    return resource.kind == "Event" and resource.group in EVENT_GROUPS


def read_event(resource: Resource) -> EventRecord | None:
    """The Event's fields (computed once per object); ``None`` for other kinds."""
    return memoised(
        resource, "event", lambda: _read(resource) if is_event(resource) else None
    )


def _count(value: Any) -> int | None:
    if type(value) is int and value > 0:
        return value
    return None


def _read(resource: Resource) -> EventRecord:
    raw = resource.raw
    new = resource.group == "events.k8s.io"
    regarding = get_map(raw, "regarding" if new else "involvedObject")
    if new:
        message_key = "note"
        source = get_map(raw, "deprecatedSource")
        component = get_str(raw, "reportingController") or get_str(source, "component")
        count = (
            _count(get_path(raw, "series", "count"))
            or _count(raw.get("deprecatedCount"))
            or 1
        )
        last = parse_timestamp(
            get_path(raw, "series", "lastObservedTime")
        ) or parse_timestamp(raw.get("deprecatedLastTimestamp"))
        first = parse_timestamp(raw.get("deprecatedFirstTimestamp"))
    else:
        message_key = "message"
        source = get_map(raw, "source")
        component = get_str(source, "component") or get_str(raw, "reportingComponent")
        count = (
            _count(raw.get("count")) or _count(get_path(raw, "series", "count")) or 1
        )
        last = parse_timestamp(raw.get("lastTimestamp")) or parse_timestamp(
            get_path(raw, "series", "lastObservedTime")
        )
        first = parse_timestamp(raw.get("firstTimestamp"))
    event_time = parse_timestamp(raw.get("eventTime"))
    first = first or event_time
    last = last or event_time or first
    about = ObjectKey(
        kind=get_str(regarding, "kind"),
        namespace=get_str(regarding, "namespace") or resource.namespace,
        name=get_str(regarding, "name"),
        uid=get_str(regarding, "uid"),
    )
    return EventRecord(
        resource=resource,
        reason=get_str(raw, "reason"),
        message=get_str(raw, message_key),
        message_path=(message_key,),
        type=get_str(raw, "type"),
        about=about,
        count=count,
        first_seen=first,
        last_seen=last,
        component=component,
        host=get_str(source, "host"),
    )


_NEVER = datetime.min.replace(tzinfo=UTC)


def _when(record: EventRecord) -> datetime:
    return record.last_seen or _NEVER


def events_about(
    graph: ObjectGraph, kind: str, namespace: str, name: str
) -> tuple[EventRecord, ...]:
    """The input's Events about one object, oldest first (by when last seen)."""
    index = graph.derived("events-by-object", _index)
    return index.get((kind, namespace, name), ())


def _index(graph: ObjectGraph) -> dict[tuple[str, str, str], tuple[EventRecord, ...]]:
    grouped: dict[tuple[str, str, str], list[EventRecord]] = defaultdict(list)
    for resource in graph.of_kind("Event"):
        record = read_event(resource)
        if record is not None and record.about.name:
            about = record.about
            grouped[(about.kind, about.namespace, about.name)].append(record)
    return {key: tuple(sorted(records, key=_when)) for key, records in grouped.items()}


def same_object(record: EventRecord, uid: str) -> bool:
    """Whether the Event is about the object with ``uid`` (unknown uids match)."""
    return not uid or not record.about.uid or record.about.uid == uid


def latest(
    records: tuple[EventRecord, ...], reasons: frozenset[str], uid: str = ""
) -> EventRecord | None:
    """The last-seen Event with one of ``reasons`` (about ``uid`` when given)."""
    found = [r for r in records if r.reason in reasons and same_object(r, uid)]
    return found[-1] if found else None


def total_count(
    records: tuple[EventRecord, ...], reasons: frozenset[str], uid: str = ""
) -> int:
    """How often Events with ``reasons`` happened, summed over their records."""
    return sum(r.count for r in records if r.reason in reasons and same_object(r, uid))


def representative(
    record: EventRecord, graph: ObjectGraph, reasons: frozenset[str]
) -> bool:
    """Whether ``record`` is the last-seen of its object's Events with ``reasons``.

    Rules that report on Events report on this one only, so that a pod retried
    a hundred times is one finding.
    """
    about = record.about
    records = events_about(graph, about.kind, about.namespace, about.name)
    return latest(records, reasons, about.uid) is record


def happened_after(
    record: EventRecord, graph: ObjectGraph, reasons: frozenset[str]
) -> EventRecord | None:
    """A later Event about the same object with one of ``reasons``, if any."""
    about = record.about
    records = events_about(graph, about.kind, about.namespace, about.name)
    when = _when(record)
    for other in reversed(records):
        if (
            other is not record
            and other.reason in reasons
            and same_object(other, about.uid)
            and _when(other) > when
        ):
            return other
    return None


def format_time(when: datetime | None) -> str:
    """``2025-05-01T10:00:00Z``, or ``""``."""
    if when is None:
        return ""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seen(record: EventRecord, total: int = 0) -> str:
    """``(FailedScheduling x12, last 2025-05-01T10:00:00Z)`` for messages."""
    count = max(total, record.count)
    what = f"{record.reason} x{count}" if count > 1 else record.reason
    when = format_time(record.last_seen)
    return f"({what}, last {when})" if when else f"({what})"


def gpu_resource_named(name: str) -> bool:
    """Whether a resource named in a message is a GPU or a share of one.

    The accelerator names of the device plugins, and the extended resources
    that GPU-sharing plugins advertise (HAMi ``nvidia.com/gpucores``,
    ``aliyun.com/gpu-mem``, ``tencent.com/vcuda-core``, AWS
    ``k8s.amazonaws.com/vgpu``).
    """
    lowered = name.lower()
    return (
        is_accelerator(name)
        or lowered.startswith("nvidia.com/")
        or "gpu" in lowered
        or "vcuda" in lowered
    )


def quoted(text: str, limit: int = 300) -> str:
    """Event text for a finding's message: one line, cut at ``limit`` characters."""
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 3].rstrip() + "..."
    return f'"{one_line}"'


# -- the scheduler's FailedScheduling summary ----------------------------------------


class ReasonKind(StrEnum):
    """What kind of filter failed on the counted nodes."""

    INSUFFICIENT = "insufficient"
    TOO_MANY_PODS = "too-many-pods"
    TAINT = "taint"
    NODE_AFFINITY = "node-affinity"
    UNSCHEDULABLE = "unschedulable"
    POD_AFFINITY = "pod-affinity"
    TOPOLOGY_SPREAD = "topology-spread"
    VOLUME = "volume"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SchedulingReason:
    """One ``<count> <reason>`` entry of the summary."""

    count: int | None
    """``None`` where the message has no count (a fragment, a PreFilter text)."""
    text: str
    kind: ReasonKind
    resource: str = ""
    """For ``Insufficient <resource>``."""
    taint_key: str | None = None
    """For taints written ``{key: value}``; ``None`` when the message hides it."""
    taint_value: str | None = None


@dataclass(frozen=True, slots=True)
class SchedulingFailure:
    """A parsed ``FailedScheduling`` (or autoscaler ``NotTriggerScaleUp``) message."""

    nodes: int | None
    """``N`` of ``0/N nodes are available``; ``None`` when the message has none."""
    prefix: str
    """The text before the counts when it is not ``0/N nodes are available``."""
    reasons: tuple[SchedulingReason, ...]
    preemption: str
    """What preemption said (after ``preemption:``), or ``""``."""
    text: str
    """The scheduling part, as written (without the preemption part)."""

    def of_kind(self, kind: ReasonKind) -> tuple[SchedulingReason, ...]:
        """The reasons of one kind."""
        return tuple(r for r in self.reasons if r.kind == kind)


_NODES = re.compile(
    r"0\s*/\s*(\d+)\s+nodes?\s+(?:are|is)\s+(?:available|unavailable)\s*:\s*(.*)",
    re.I | re.S,
)
_PREFIXED = re.compile(r"(.*?):\s+(\d+\s.*)", re.S)
_PREEMPTION = re.compile(r"(?:^|\s)preemption:\s*", re.I)
_SPLIT = re.compile(r",\s+(?=\d+\s)")
_COUNTED = re.compile(r"(\d+)\s+(.+)", re.S)
_INSUFFICIENT = re.compile(r"insufficient\s+(\S+)", re.I)
_TAINT = re.compile(
    r"node\(s\) had (?:untolerated )?taints? \{([^{}:]*):\s?([^{}]*)\}", re.I
)
_TAINT_HIDDEN = re.compile(r"node\(s\) had untolerated taint\(s\)", re.I)
_POD_AFFINITY = re.compile(
    r"pod (?:anti-)?affinity|pods anti-affinity|affinity terms conflict", re.I
)
_NODE_AFFINITY = re.compile(
    r"node affinity|node selector|plugin\(s\)? \[[^\]]*NodeAffinity", re.I
)
_KINDS: tuple[tuple[re.Pattern[str], ReasonKind], ...] = (
    (re.compile(r"were unschedulable", re.I), ReasonKind.UNSCHEDULABLE),
    (re.compile(r"too many pods|insufficient pods", re.I), ReasonKind.TOO_MANY_PODS),
    (
        re.compile(r"volume|persistentvolumeclaim|free storage", re.I),
        ReasonKind.VOLUME,
    ),
    (_POD_AFFINITY, ReasonKind.POD_AFFINITY),
    (_NODE_AFFINITY, ReasonKind.NODE_AFFINITY),
    (re.compile(r"topology spread", re.I), ReasonKind.TOPOLOGY_SPREAD),
)


def _trim(text: str) -> str:
    text = text.strip()
    if text.endswith(" ..."):  # the event recorder's 1024-character cut
        text = text[:-4]
    return text.rstrip(". ").strip()


def _reason(piece: str) -> SchedulingReason:
    piece = " ".join(piece.split())
    match = _COUNTED.fullmatch(piece)
    count, text = (int(match[1]), match[2]) if match else (None, piece)
    text = _trim(text)
    insufficient = _INSUFFICIENT.fullmatch(text)
    if insufficient and insufficient[1].lower() != "pods":
        return SchedulingReason(
            count, text, ReasonKind.INSUFFICIENT, resource=insufficient[1]
        )
    taint = _TAINT.search(text)
    if taint:
        return SchedulingReason(
            count,
            text,
            ReasonKind.TAINT,
            taint_key=taint[1].strip(),
            taint_value=taint[2].strip(),
        )
    if _TAINT_HIDDEN.search(text):
        return SchedulingReason(count, text, ReasonKind.TAINT)
    for pattern, kind in _KINDS:
        if pattern.search(text):
            return SchedulingReason(count, text, kind)
    return SchedulingReason(count, text, ReasonKind.OTHER)


def _reasons(body: str) -> tuple[SchedulingReason, ...]:
    body = _trim(body)
    if not body:
        return ()
    return tuple(_reason(piece) for piece in _SPLIT.split(body) if piece.strip())


def parse_scheduling_failure(message: str) -> SchedulingFailure | None:
    """The nodes and reasons of a scheduling failure message; ``None`` if empty.

    Every wording of the summary since v1.19 is read, cut and quoted fragments
    included: the counts may add up to more than ``N`` (one node can fail for
    several resources) or less (nodes a PreFilter removed are not counted up to
    v1.31).
    """
    if not isinstance(message, str) or not message.strip():
        return None
    text = message.strip()
    head, preemption = text, ""
    split = _PREEMPTION.search(text)
    if split is not None:
        head, preemption = text[: split.start()], _trim(text[split.end() :])
    head = head.strip()
    nodes: int | None = None
    prefix = ""
    whole = _NODES.fullmatch(head)
    if whole is not None:
        nodes, body = int(whole[1]), whole[2]
    else:
        prefixed = _PREFIXED.fullmatch(head)
        if prefixed is not None:
            prefix, body = prefixed[1].strip(), prefixed[2]
        else:
            body = head
    return SchedulingFailure(
        nodes=nodes,
        prefix=prefix,
        reasons=_reasons(body),
        preemption=preemption,
        text=_trim(head) + "." if _trim(head) else "",
    )

"""NetworkPolicy semantics: which pods a policy isolates and what its rules allow.

Every answer that depends on something the input does not show is ``None``
(unknown), never ``False``: a label that an operator adds to the pods it
creates, a namespace label set outside the input, a named port, an
``ipBlock`` (whether it covers pod IPs is up to the network plugin).

Sources:
- kubernetes/website ``concepts/services-networking/network-policies.md``:
  a pod is isolated for a direction once any policy that selects it has that
  direction in ``policyTypes``; the rules of all such policies add up; an
  empty ``podSelector`` selects every pod of the namespace; without
  ``policyTypes``, ``Ingress`` is always set and ``Egress`` when the policy has
  egress rules; traffic to and from the pod's own node is always allowed;
  ``endPort`` needs a numeric ``port``; NetworkPolicy behaviour for
  ``hostNetwork`` pods is undefined and most plugins ignore those pods.
- API reference ``NetworkPolicySpec``, ``NetworkPolicyPort``: an empty or
  missing ``from``/``to`` matches every peer, an empty or missing ``ports``
  every port; ``protocol`` defaults to TCP; a missing ``port`` matches every
  port of the protocol.
- ``kubernetes.io/metadata.name``: the immutable label the control plane sets
  on every Namespace to its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    is_placeholder,
)
from kubernai.model.selector import selector_matches

INGRESS = "Ingress"
EGRESS = "Egress"
DIRECTIONS = (INGRESS, EGRESS)
_RULES_FIELD = {INGRESS: "ingress", EGRESS: "egress"}
_PEERS_FIELD = {INGRESS: "from", EGRESS: "to"}
_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
GROUP = "networking.k8s.io"
FOREIGN_NAMESPACED = ("CiliumNetworkPolicy",)
"""Namespaced policy kinds of network plugins: they also allow or deny traffic."""
FOREIGN_CLUSTER_WIDE = (
    "CiliumClusterwideNetworkPolicy",
    "GlobalNetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
)
"""Cluster-wide policy kinds (Cilium, Calico, the policy.networking.k8s.io API)."""
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the control plane on every Namespace, to the namespace's name."""


# -- three-valued label selectors -------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def selector_verdict(selector: Any, labels: Mapping[str, Any]) -> bool | None:
    """Whether a LabelSelector selects ``labels``, as far as the input tells.

    ``True``: it selects them. ``False``: a requirement fails on a label the
    object carries, so no label added later can make it match. ``None``:
    malformed, or it depends on labels the object does not carry, which a
    controller or webhook may still add to the pods (so ``NotIn`` and
    ``DoesNotExist`` on a missing label are unknown too).
    """
    if not isinstance(selector, Mapping):
        return None
    if not selector.get("matchExpressions") and selector_matches(selector, labels):
        return True
    wanted = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if wanted is not None and not isinstance(wanted, Mapping):
        return None
    if expressions is not None and not isinstance(expressions, list):
        return None
    verdict: bool | None = True
    for key, value in (wanted or {}).items():
        if key not in labels:
            verdict = None  # a controller may still add the label
            continue
        actual = labels[key]
        if _text(actual) == _text(value) and _text(value) is not None:
            continue
        if is_placeholder(value) or is_placeholder(actual) or _text(value) is None:
            verdict = None
            continue
        return False
    for expression in expressions or ():
        if not isinstance(expression, Mapping):
            return None
        key = expression.get("key")
        operator = expression.get("operator")
        values = expression.get("values")
        if not isinstance(key, str) or not isinstance(operator, str):
            return None
        if values is not None and not isinstance(values, list):
            return None
        outcome = _requirement(labels, key, operator, values or [])
        verdict = _and(verdict, outcome)
        if verdict is False:
            return False
    return verdict


def _requirement(
    labels: Mapping[str, Any], key: str, operator: str, values: list[Any]
) -> bool | None:
    wanted = {_text(v) for v in values}
    if any(is_placeholder(v) or _text(v) is None for v in values):
        return None
    present = key in labels
    actual = _text(labels.get(key)) if present else None
    if present and (actual is None or is_placeholder(actual)):
        return None
    if operator == "In":
        return (actual in wanted) if present else None
    if operator == "NotIn":
        return (actual not in wanted) if present else None
    if operator == "Exists":
        return True if present else None
    if operator == "DoesNotExist":
        return False if present else None
    return None


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def _or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    if left is None or right is None:
        return None
    return False


def any_of(verdicts: Iterable[bool | None]) -> bool | None:
    """Three-valued OR: ``True`` if one is, ``False`` if all are, else ``None``."""
    result: bool | None = False
    for verdict in verdicts:
        result = _or(result, verdict)
        if result is True:
            return True
    return result


def selector_wellformed(selector: Any) -> bool:
    """Whether a LabelSelector has the shape the API accepts."""
    if not isinstance(selector, Mapping):
        return False
    wanted = selector.get("matchLabels")
    if wanted is not None and not isinstance(wanted, Mapping):
        return False
    expressions = selector.get("matchExpressions")
    if expressions is None:
        return True
    if not isinstance(expressions, list):
        return False
    for expression in expressions:
        if not isinstance(expression, Mapping):
            return False
        if not isinstance(expression.get("key"), str):
            return False
        operator = expression.get("operator")
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
        values = expression.get("values")
        if values is not None and not isinstance(values, list):
            return False
    return True


def is_empty_selector(selector: Any) -> bool:
    """``{}`` (or empty ``matchLabels`` and ``matchExpressions``): every pod."""
    if not isinstance(selector, Mapping):
        return False
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def describe_selector(selector: Any) -> str:
    """A short rendering of a selector for messages: ``{app: vllm}``."""
    if not isinstance(selector, Mapping) or is_empty_selector(selector):
        return "{}"
    parts = [f"{k}: {v}" for k, v in get_map(selector, "matchLabels").items()]
    for expression in selector.get("matchExpressions") or ():
        if isinstance(expression, Mapping):
            values = expression.get("values")
            shown = f" {values}" if isinstance(values, list) else ""
            parts.append(f"{expression.get('key')} {expression.get('operator')}{shown}")
    return "{" + ", ".join(parts) + "}"


# -- ports, peers, rules, policies ---------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One entry of a rule's ``ports``."""

    path: Path
    protocol: str
    """``TCP`` when the entry leaves it unset (the API default)."""
    port: int | str | None
    """A number, a container port name, or ``None`` (every port)."""
    end_port: int | None
    protocol_written: bool

    def covers(self, number: int, protocol: str, name: str = "") -> bool | None:
        """Whether the entry allows ``number``/``protocol``.

        ``name`` is the container port's name where known; a named entry
        without it is unknown.
        """
        if self.protocol != protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return (self.port == name) if name else None
        if self.end_port is not None:
            return self.port <= number <= self.end_port
        return self.port == number

    def covers_every_port(self, protocol: str) -> bool | None:
        """Whether the entry allows every port of ``protocol``.

        A range is unknown (it may span the ports a program picks); a single
        number or name is not every port.
        """
        if self.protocol != protocol:
            return False
        if self.port is None:
            return True
        if self.end_port is not None:
            return None
        return False

    def describe(self) -> str:
        """``TCP 29500``, ``UDP 53``, ``TCP 30000-32767``, ``TCP (every port)``."""
        if self.port is None:
            return f"{self.protocol} (every port)"
        if self.end_port is not None:
            return f"{self.protocol} {self.port}-{self.end_port}"
        return f"{self.protocol} {self.port}"


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of a rule's ``from`` or ``to``."""

    path: Path
    pod_selector: Mapping[str, Any] | None
    """``None`` when the peer has no ``podSelector``."""
    namespace_selector: Mapping[str, Any] | None
    """``None`` when the peer has no ``namespaceSelector``."""
    ip_block: bool
    malformed: bool

    def matches_pods(
        self,
        labels: Mapping[str, Any],
        *,
        namespace: str,
        policy_namespace: str,
        namespace_labels: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """Whether the peer covers pods with ``labels`` in ``namespace``.

        ``namespace_labels`` are the labels of the pods' Namespace where the
        input holds it; ``kubernetes.io/metadata.name`` is always known when
        the namespace is named.
        """
        if self.malformed or self.ip_block:
            return None  # whether an ipBlock covers pod IPs is plugin-defined
        if self.namespace_selector is None:
            same = _same_namespace(namespace, policy_namespace)
            if same is not True:
                return same
            namespace_ok: bool | None = True
        else:
            known = dict(namespace_labels or {})
            if _named(namespace):
                known[NAMESPACE_NAME_LABEL] = namespace
            namespace_ok = selector_verdict(self.namespace_selector, known)
        if namespace_ok is False:
            return False
        if self.pod_selector is None:
            return namespace_ok
        return _and(namespace_ok, selector_verdict(self.pod_selector, labels))


@lru_cache(maxsize=1024)
def _named(namespace: str) -> bool:
    return bool(namespace) and not is_placeholder(namespace)


def _same_namespace(left: str, right: str) -> bool | None:
    if left == right:
        return True
    if _named(left) and _named(right):
        return False
    return None


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ``ingress`` or ``egress`` rule."""

    direction: str
    path: Path
    peers: tuple[Peer, ...]
    """Empty: every peer."""
    ports: tuple[PolicyPort, ...]
    """Empty: every port."""
    malformed: bool

    def allows_port(self, number: int, protocol: str, name: str = "") -> bool | None:
        """Whether some peer may use ``number``/``protocol`` under this rule."""
        if self.malformed:
            return None
        if not self.ports:
            return True
        return any_of(p.covers(number, protocol, name) for p in self.ports)

    def allows_every_port(self, protocol: str) -> bool | None:
        """Whether the rule allows every port of ``protocol``."""
        if self.malformed:
            return None
        if not self.ports:
            return True
        return any_of(p.covers_every_port(protocol) for p in self.ports)

    def allows_pods(
        self,
        labels: Mapping[str, Any],
        *,
        namespace: str,
        policy_namespace: str,
        namespace_labels: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """Whether the rule's peers cover pods with ``labels`` in ``namespace``."""
        if self.malformed:
            return None
        if not self.peers:
            return True
        return any_of(
            peer.matches_pods(
                labels,
                namespace=namespace,
                policy_namespace=policy_namespace,
                namespace_labels=namespace_labels,
            )
            for peer in self.peers
        )


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """A ``networking.k8s.io`` NetworkPolicy, read once."""

    resource: Resource
    pod_selector: Any
    types: frozenset[str]
    """Effective ``policyTypes`` (defaulted as the API server does)."""
    types_written: bool
    rules: tuple[PolicyRule, ...]
    malformed: bool
    """A shape the API server would reject; every answer about it is unknown."""
    _verdicts: dict[int, tuple[Mapping[str, Any], bool | None]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """``selects`` answers by label mapping (kept alive, so its id stays its own)."""

    @property
    def name(self) -> str:
        """The policy's name."""
        return self.resource.name

    @property
    def selects_all(self) -> bool:
        """``podSelector: {}``: the policy applies to every pod of its namespace."""
        return not self.malformed and is_empty_selector(self.pod_selector)

    def rules_for(self, direction: str) -> tuple[PolicyRule, ...]:
        """The policy's rules of one direction."""
        return tuple(r for r in self.rules if r.direction == direction)

    def selects(self, labels: Mapping[str, Any]) -> bool | None:
        """Whether the policy's ``podSelector`` selects pods with ``labels``."""
        if self.malformed:
            return None
        known = self._verdicts.get(id(labels))
        if known is not None and known[0] is labels:
            return known[1]
        verdict = selector_verdict(self.pod_selector, labels)
        self._verdicts[id(labels)] = (labels, verdict)
        return verdict

    def isolates(self, labels: Mapping[str, Any], direction: str) -> bool | None:
        """Whether the policy applies to pods with ``labels`` for ``direction``."""
        if self.malformed:
            return None
        if direction not in self.types:
            return False
        return self.selects(labels)


def _port(entry: Any, path: Path) -> PolicyPort | None:
    if not isinstance(entry, Mapping):
        return None
    protocol = entry.get("protocol")
    if protocol is not None and protocol not in _PROTOCOLS:
        return None
    port = entry.get("port")
    end_port = entry.get("endPort")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int | str):
            return None
        if isinstance(port, str) and (is_placeholder(port) or port.isdigit()):
            return None
    if end_port is not None and (
        isinstance(end_port, bool)
        or not isinstance(end_port, int)
        or not isinstance(port, int)
    ):
        return None
    return PolicyPort(
        path=path,
        protocol=protocol or "TCP",
        port=port,
        end_port=end_port,
        protocol_written=protocol is not None,
    )


def _peer(entry: Any, path: Path) -> Peer:
    if not isinstance(entry, Mapping):
        return Peer(path, None, None, ip_block=False, malformed=True)
    pods = entry.get("podSelector")
    namespaces = entry.get("namespaceSelector")
    ip_block = entry.get("ipBlock") is not None
    malformed = (
        (pods is not None and not selector_wellformed(pods))
        or (namespaces is not None and not selector_wellformed(namespaces))
        or (pods is None and namespaces is None and not ip_block)
    )
    return Peer(
        path=path,
        pod_selector=pods if isinstance(pods, Mapping) else None,
        namespace_selector=namespaces if isinstance(namespaces, Mapping) else None,
        ip_block=ip_block,
        malformed=malformed,
    )


def _rule(direction: str, entry: Any, path: Path) -> PolicyRule:
    if not isinstance(entry, Mapping):
        return PolicyRule(direction, path, (), (), malformed=True)
    peers_field = _PEERS_FIELD[direction]
    raw_peers = entry.get(peers_field)
    raw_ports = entry.get("ports")
    malformed = (raw_peers is not None and not isinstance(raw_peers, list)) or (
        raw_ports is not None and not isinstance(raw_ports, list)
    )
    peers = tuple(
        _peer(item, (*path, peers_field, index))
        for index, item in enumerate(raw_peers if isinstance(raw_peers, list) else ())
    )
    ports: list[PolicyPort] = []
    for index, item in enumerate(raw_ports if isinstance(raw_ports, list) else ()):
        port = _port(item, (*path, "ports", index))
        if port is None:
            malformed = True
        else:
            ports.append(port)
    return PolicyRule(direction, path, peers, tuple(ports), malformed=malformed)


def parse_policy(resource: Resource) -> NetworkPolicy:
    """Read a NetworkPolicy; a shape the API would reject is marked malformed.

    Another plugin's policy kind (Calico's ``projectcalico.org`` NetworkPolicy,
    Cilium's, AdminNetworkPolicy) is read as malformed too: it changes what
    is allowed in ways this model does not follow.
    """
    spec = get_path(resource.raw, "spec")
    malformed = (
        not isinstance(spec, Mapping)
        or resource.kind != "NetworkPolicy"
        or resource.group != GROUP
    )
    selector = get_path(spec, "podSelector")
    if not selector_wellformed(selector):
        malformed = True
    rules: list[PolicyRule] = []
    has_rules = {INGRESS: False, EGRESS: False}
    for direction in DIRECTIONS:
        key = _RULES_FIELD[direction]
        raw = get_path(spec, key)
        if raw is None:
            continue
        if not isinstance(raw, list):
            malformed = True
            continue
        has_rules[direction] = bool(raw)
        for index, entry in enumerate(raw):
            rules.append(_rule(direction, entry, ("spec", key, index)))
    written = get_path(spec, "policyTypes")
    types: set[str] = set()
    if isinstance(written, list) and written:
        for value in written:
            if value in DIRECTIONS:
                types.add(value)
            else:
                malformed = True
    elif written is not None and not isinstance(written, list):
        malformed = True
    else:
        types.add(INGRESS)
        if has_rules[EGRESS]:
            types.add(EGRESS)
    return NetworkPolicy(
        resource=resource,
        pod_selector=selector,
        types=frozenset(types),
        types_written=bool(isinstance(written, list) and written),
        rules=tuple(rules),
        malformed=malformed,
    )


# -- which policies and workloads share a namespace --------------------------


@lru_cache(maxsize=4096)
def _folder(file: str) -> PurePath:
    return PurePath(file).parent


def related_files(left: str, right: str) -> bool:
    """Whether one file's folder is the other's folder or one above it."""
    if left == right:
        return True
    a, b = _folder(left), _folder(right)
    return a == b or a in b.parents or b in a.parents


def same_scope(policy: Resource, other: Resource) -> bool:
    """Whether a namespaced policy applies in ``other``'s namespace.

    Objects that name their namespace share it when the names are equal.
    Objects that leave it to ``kubectl -n`` (or to a template) are taken to
    share one only when their files sit in the same folder tree.
    """
    if policy.namespace != other.namespace:
        return False
    return _named(policy.namespace) or related_files(
        policy.source.file, other.source.file
    )


def namespace_policies(graph: ObjectGraph, namespace: str) -> tuple[NetworkPolicy, ...]:
    """Every policy of a namespace in the input, read once per graph.

    Policies of other kinds (Cilium's) come out malformed: unknown.
    """

    def build(g: ObjectGraph) -> tuple[NetworkPolicy, ...]:
        found = list(g.network_policies(namespace))
        for kind in FOREIGN_NAMESPACED:
            found.extend(g.of_kind(kind, namespace))
        return tuple(parse_policy(r) for r in found)

    return graph.derived(("network-policies", namespace), build)


def cluster_wide_policies(graph: ObjectGraph) -> tuple[NetworkPolicy, ...]:
    """Cluster-wide policies of network plugins in the input (all malformed)."""
    return graph.derived(
        "cluster-wide-network-policies",
        lambda g: tuple(
            parse_policy(r) for kind in FOREIGN_CLUSTER_WIDE for r in g.of_kind(kind)
        ),
    )


def policies_for(graph: ObjectGraph, resource: Resource) -> tuple[NetworkPolicy, ...]:
    """The policies in the input that apply in ``resource``'s namespace.

    Cluster-wide policies of other kinds are included (as malformed), so that
    callers treat their effect as unknown.
    """
    namespaced = namespace_policies(graph, resource.namespace)
    if namespaced and not _named(resource.namespace):
        namespaced = tuple(p for p in namespaced if same_scope(p.resource, resource))
    return cluster_wide_policies(graph) + namespaced


def host_network(spec: Mapping[str, Any]) -> bool:
    """``hostNetwork: true`` in a pod spec."""
    return spec.get("hostNetwork") is True


def policy_names(policies: Iterable[NetworkPolicy], limit: int = 3) -> str:
    """``'a', 'b', 'c' and 2 more`` for messages."""
    names = sorted({repr(p.name or "(unnamed)") for p in policies})
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def namespace_text(namespace: str) -> str:
    """How messages name a namespace (``""`` is the one kubectl applies to)."""
    if _named(namespace):
        return f"namespace {namespace!r}"
    return "the namespace these manifests are applied to"

"""Node selectors and node affinity, evaluated for every node at once.

Semantics of ``k8s.io/component-helpers/scheduling/corev1/nodeaffinity``:
``nodeSelector`` and the required terms must both match; terms are ORed,
the expressions and fields of a term ANDed; an empty term, or one that does
not parse (``In`` without values, ``Gt`` with a non-integer), matches nothing.
``NotIn`` and ``DoesNotExist`` match a node without the label. ``Gt``/``Lt``
compare the label parsed as an integer. ``matchFields`` knows only
``metadata.name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kubernai.model.resource import get_list, get_map, get_path, get_str, iter_maps
from kubernai.sim.cluster import BoolArray, Cluster, IntArray

NAME_FIELD = "metadata.name"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def _values(expression: Mapping[str, Any]) -> list[str] | None:
    raw = expression.get("values")
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    return ["true" if v is True else "false" if v is False else str(v) for v in raw]


def _expression(cluster: Cluster, expression: Mapping[str, Any]) -> BoolArray | None:
    key = get_str(expression, "key")
    operator = get_str(expression, "operator")
    values = _values(expression)
    if not key or values is None:
        return None
    if operator in ("In", "NotIn"):
        if not values:
            return None
        codes, known = cluster.label_codes(key)
        wanted = [known[v] for v in values if v in known]
        hit = np.isin(codes, wanted) if wanted else np.zeros(cluster.n, dtype=bool)
        return hit if operator == "In" else ~hit
    if operator in ("Exists", "DoesNotExist"):
        if values:
            return None
        codes, _ = cluster.label_codes(key)
        return codes >= 0 if operator == "Exists" else codes < 0
    if operator in ("Gt", "Lt"):
        if len(values) != 1 or not _is_int(values[0]):
            return None
        numbers = cluster.label_ints(key)
        with np.errstate(invalid="ignore"):
            if operator == "Gt":
                return np.asarray(numbers > int(values[0]))
            return np.asarray(numbers < int(values[0]))
    return None


def _is_int(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isdigit()


def _field(cluster: Cluster, expression: Mapping[str, Any]) -> BoolArray | None:
    operator = get_str(expression, "operator")
    values = _values(expression)
    if get_str(expression, "key") != NAME_FIELD or not values or len(values) != 1:
        return None
    if operator not in ("In", "NotIn"):
        return None
    hit = np.zeros(cluster.n, dtype=bool)
    row = cluster.index.get(values[0])
    if row is not None:
        hit[row] = True
    return hit if operator == "In" else ~hit


def term_mask(cluster: Cluster, term: Any) -> BoolArray:
    """Nodes a ``NodeSelectorTerm`` matches."""
    mask = np.ones(cluster.n, dtype=bool)
    expressions = list(iter_maps(term, "matchExpressions"))
    fields = list(iter_maps(term, "matchFields"))
    if not expressions and not fields:
        return np.zeros(cluster.n, dtype=bool)
    for _, expression in expressions:
        hit = _expression(cluster, expression)
        if hit is None:
            return np.zeros(cluster.n, dtype=bool)
        mask &= hit
    for _, expression in fields:
        hit = _field(cluster, expression)
        if hit is None:
            return np.zeros(cluster.n, dtype=bool)
        mask &= hit
    return mask


def terms_mask(cluster: Cluster, terms: list[Any]) -> BoolArray:
    """Nodes any of the terms matches."""
    mask = np.zeros(cluster.n, dtype=bool)
    for term in terms:
        if isinstance(term, Mapping):
            mask |= term_mask(cluster, term)
    return mask


def selector_mask(cluster: Cluster, selector: Mapping[str, Any]) -> BoolArray:
    """Nodes whose labels hold every ``key: value`` of a ``nodeSelector``."""
    mask = np.ones(cluster.n, dtype=bool)
    for key, value in selector.items():
        codes, known = cluster.label_codes(str(key))
        text = "true" if value is True else "false" if value is False else str(value)
        code = known.get(text)
        if code is None:
            return np.zeros(cluster.n, dtype=bool)
        mask &= codes == code
    return mask


def required_mask(cluster: Cluster, spec: Mapping[str, Any]) -> BoolArray:
    """Nodes that match the pod's ``nodeSelector`` and required node affinity."""
    mask = selector_mask(cluster, get_map(spec, "nodeSelector"))
    required = get_path(spec, "affinity", "nodeAffinity", REQUIRED)
    if isinstance(required, Mapping):
        mask &= terms_mask(cluster, get_list(required, "nodeSelectorTerms"))
    return mask


def added_mask(cluster: Cluster, added: Mapping[str, Any]) -> BoolArray | None:
    """Nodes the profile's ``addedAffinity`` allows; ``None`` when it sets none."""
    required = added.get(REQUIRED)
    if not isinstance(required, Mapping):
        return None
    return terms_mask(cluster, get_list(required, "nodeSelectorTerms"))


def prefilter_names(spec: Mapping[str, Any]) -> set[str] | None:
    """NodeAffinity's PreFilterResult: the node names ``matchFields`` pins the pod to.

    ``None`` when every node is eligible; an empty set when the terms conflict.
    """
    required = get_path(spec, "affinity", "nodeAffinity", REQUIRED)
    if not isinstance(required, Mapping):
        return None
    names: set[str] = set()
    for _, term in iter_maps(required, "nodeSelectorTerms"):
        term_names: set[str] | None = None
        for _, field in iter_maps(term, "matchFields"):
            if (
                get_str(field, "key") == NAME_FIELD
                and get_str(field, "operator") == "In"
            ):
                values = set(_values(field) or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names


def preferred_terms(spec: Mapping[str, Any]) -> list[tuple[int, Any]]:
    """``(weight, preference)`` of the pod's preferred node-affinity terms."""
    found = []
    for _, item in iter_maps(spec, "affinity", "nodeAffinity", PREFERRED):
        weight = item.get("weight")
        if isinstance(weight, int) and not isinstance(weight, bool) and weight != 0:
            found.append((weight, item.get("preference")))
    return found


def preferred_score(cluster: Cluster, terms: list[tuple[int, Any]]) -> IntArray:
    """NodeAffinity's raw score: the summed weights of the terms a node matches."""
    score = np.zeros(cluster.n, dtype=np.int64)
    for weight, preference in terms:
        if isinstance(preference, Mapping):
            score += np.where(term_mask(cluster, preference), weight, 0)
    return score

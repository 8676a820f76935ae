"""Label selectors (``matchLabels``, ``matchExpressions``) as the API defines them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernai.model.resource import get_str, iter_maps


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool | None:
    """Whether a LabelSelector selects ``labels``; ``None`` when it is malformed.

    An empty selector selects everything, as in the API.
    """
    if not isinstance(selector, Mapping):
        return None
    wanted = selector.get("matchLabels") or {}
    if not isinstance(wanted, Mapping):
        return None
    for key, value in wanted.items():
        if _as_text(labels.get(key)) != _as_text(value):
            return False
    for _, expression in iter_maps(selector, "matchExpressions"):
        key = get_str(expression, "key")
        operator = get_str(expression, "operator")
        values = {_as_text(v) for v in expression.get("values") or ()}
        present = key in labels
        actual = _as_text(labels.get(key))
        if operator == "In":
            ok = present and actual in values
        elif operator == "NotIn":
            ok = not present or actual not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            return None
        if not ok:
            return False
    return True


def map_selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool | None:
    """A plain ``key: value`` selector (Service ``spec.selector``).

    An empty one selects no pods.
    """
    if not isinstance(selector, Mapping):
        return None
    if not selector:
        return False
    return all(_as_text(labels.get(k)) == _as_text(v) for k, v in selector.items())

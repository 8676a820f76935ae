"""Prometheus alerting and recording rules, their PromQL parsed into a syntax tree.

Expressions are parsed with ``promql-parser`` (the Rust PromQL parser of
GreptimeTeam, compatible with Prometheus 2.45); nothing here reads PromQL with
regular expressions. An expression the parser rejects (a Helm placeholder, a
newer syntax) is kept with ``parsed`` set to ``None`` and rules skip it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import promql_parser as pp

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_str, iter_maps
from kubernai.model.workload import memoised

RULE_GROUP = "monitoring.coreos.com"
"""API group of the Prometheus Operator's PrometheusRule."""

COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
_FLIPPED = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_MAX_DEPTH = 200
"""Deeper trees are not walked (no real rule nests this far)."""


@dataclass(frozen=True, slots=True)
class RuleExpr:
    """One rule of a PrometheusRule: an alert or a recording rule."""

    kind: str
    """``alert`` or ``record``."""
    name: str
    """The alert name or the recorded metric name."""
    expr: str
    path: Path
    """Path of the ``expr`` field in the object."""
    parsed: pp.Expr | None
    """The syntax tree; ``None`` when the expression does not parse."""

    @property
    def label(self) -> str:
        """How messages name the rule: ``alert 'GpuHot'``."""
        return f"{'alert' if self.kind == 'alert' else 'recording rule'} {self.name!r}"


def is_prometheus_rule(resource: Resource) -> bool:
    """Whether ``resource`` is a Prometheus Operator PrometheusRule."""
    return resource.kind == "PrometheusRule" and resource.group == RULE_GROUP


def rule_exprs(resource: Resource) -> tuple[RuleExpr, ...]:
    """Every rule of a PrometheusRule with a string ``expr``; parsed once."""
    return memoised(resource, "promql_rules", lambda: tuple(_rule_exprs(resource)))


def _rule_exprs(resource: Resource) -> Iterator[RuleExpr]:
    if not is_prometheus_rule(resource):
        return
    for g, group in iter_maps(resource.raw, "spec", "groups"):
        for r, rule in iter_maps(group, "rules"):
            expr = rule.get("expr")
            if isinstance(expr, int | float) and not isinstance(expr, bool):
                expr = str(expr)
            if not isinstance(expr, str) or not expr.strip():
                continue
            alert, record = get_str(rule, "alert"), get_str(rule, "record")
            if not alert and not record:
                continue
            yield RuleExpr(
                kind="alert" if alert else "record",
                name=alert or record,
                expr=expr,
                path=("spec", "groups", g, "rules", r, "expr"),
                parsed=parse_expr(expr),
            )


@lru_cache(maxsize=4096)
def parse_expr(text: str) -> pp.Expr | None:
    """The syntax tree of a PromQL expression, or ``None`` when it does not parse."""
    try:
        return pp.parse(text)
    except (ValueError, TypeError, RuntimeError):
        return None


# --- selectors ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    """A metric read by an expression, with the functions it is read through."""

    name: str
    enclosing: tuple[str, ...]
    """Functions and aggregations around the selector, outermost first."""


def metric_name(node: pp.VectorSelector) -> str:
    """The metric a selector names (``x{}`` or ``{__name__="x"}``), or ``""``."""
    if node.name:
        return node.name
    for matcher in node.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return matcher.value
    return ""


def selectors(expr: pp.Expr) -> Iterator[Selector]:
    """Every named metric the expression reads, in source order."""
    yield from _selectors(expr, (), 0)


def _selectors(
    node: object, enclosing: tuple[str, ...], depth: int
) -> Iterator[Selector]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, pp.VectorSelector):
        name = metric_name(node)
        if name:
            yield Selector(name, enclosing)
        return
    if isinstance(node, pp.Call):
        inner = (*enclosing, node.func.name)
        for arg in node.args:
            yield from _selectors(arg, inner, depth + 1)
        return
    if isinstance(node, pp.AggregateExpr):
        inner = (*enclosing, str(node.op))
        yield from _selectors(node.expr, inner, depth + 1)
        if isinstance(node.param, pp.Expr):
            yield from _selectors(node.param, inner, depth + 1)
        return
    for child in _children(node):
        yield from _selectors(child, enclosing, depth + 1)


def _children(node: object) -> tuple[object, ...]:
    if isinstance(node, pp.BinaryExpr):
        return (node.lhs, node.rhs)
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return (node.expr,)
    if isinstance(node, pp.MatrixSelector):
        return (node.vector_selector,)
    return ()


# --- comparisons with a number -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<one metric, scaled> OP <number>``, written either way round.

    ``threshold`` is in the metric's own unit: the number written divided by
    the factor the metric was multiplied by (``x * 100 > 80`` has threshold 0.8).
    """

    metric: str
    op: str
    """The operator with the metric on the left."""
    written: float
    scale: float
    threshold: float


_SAME_UNIT_AGGREGATIONS = frozenset(
    {"avg", "min", "max", "quantile", "topk", "bottomk", "limitk", "limit_ratio"}
)
_SAME_UNIT_FUNCTIONS = {
    "abs": 0,
    "ceil": 0,
    "floor": 0,
    "round": 0,
    "clamp": 0,
    "clamp_min": 0,
    "clamp_max": 0,
    "label_replace": 0,
    "label_join": 0,
    "sort": 0,
    "sort_desc": 0,
    "sort_by_label": 0,
    "sort_by_label_desc": 0,
    "avg_over_time": 0,
    "min_over_time": 0,
    "max_over_time": 0,
    "last_over_time": 0,
    "first_over_time": 0,
    "quantile_over_time": 1,
}
"""Functions whose result is in the unit of one argument (its index)."""


def comparisons(expr: pp.Expr) -> Iterator[Comparison]:
    """Comparisons of a single metric (in its own unit, or scaled) with a number."""
    yield from _comparisons(expr, 0)


def _comparisons(node: object, depth: int) -> Iterator[Comparison]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        if op in COMPARISONS:
            found = _compare(node.lhs, node.rhs, op)
            if found is None:
                found = _compare(node.rhs, node.lhs, _FLIPPED[op])
            if found is not None:
                yield found
    children: tuple[object, ...]
    if isinstance(node, pp.Call):
        children = tuple(node.args)
    elif isinstance(node, pp.AggregateExpr):
        children = (node.expr,)
    else:
        children = _children(node)
    for child in children:
        yield from _comparisons(child, depth + 1)


def _compare(metric_side: object, number_side: object, op: str) -> Comparison | None:
    number = constant(number_side)
    if number is None:
        return None
    scaled = _scaled_metric(metric_side, 0)
    if scaled is None:
        return None
    name, scale = scaled
    if scale == 0 or not math.isfinite(scale):
        return None
    return Comparison(name, op, number, scale, number / scale)


def _scaled_metric(node: object, depth: int) -> tuple[str, float] | None:
    """``(metric, factor)`` when ``node`` is one metric times a constant factor."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(node, pp.VectorSelector):
        name = metric_name(node)
        return (name, 1.0) if name else None
    if isinstance(node, pp.MatrixSelector):
        return _scaled_metric(node.vector_selector, depth + 1)
    if isinstance(node, pp.ParenExpr | pp.SubqueryExpr):
        return _scaled_metric(node.expr, depth + 1)
    if isinstance(node, pp.AggregateExpr):
        if str(node.op) in _SAME_UNIT_AGGREGATIONS:
            return _scaled_metric(node.expr, depth + 1)
        return None
    if isinstance(node, pp.Call):
        index = _SAME_UNIT_FUNCTIONS.get(node.func.name)
        if index is None or index >= len(node.args):
            return None
        return _scaled_metric(node.args[index], depth + 1)
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        if op not in ("*", "/"):
            return None
        right = constant(node.rhs)
        if right is not None:
            inner = _scaled_metric(node.lhs, depth + 1)
            if inner is None or right == 0:
                return None
            return inner[0], inner[1] * right if op == "*" else inner[1] / right
        left = constant(node.lhs)
        if left is not None and op == "*":
            inner = _scaled_metric(node.rhs, depth + 1)
            return None if inner is None else (inner[0], inner[1] * left)
    return None


def constant(node: object) -> float | None:
    """The value of a number literal or of arithmetic on number literals."""
    return _constant(node, 0)


def _constant(node: object, depth: int) -> float | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.ParenExpr):
        return _constant(node.expr, depth + 1)
    if isinstance(node, pp.UnaryExpr):
        inner = _constant(node.expr, depth + 1)
        return None if inner is None else -inner
    if isinstance(node, pp.BinaryExpr):
        left, right = _constant(node.lhs, depth + 1), _constant(node.rhs, depth + 1)
        if left is None or right is None:
            return None
        value = _arithmetic(str(node.op), left, right)
        return value if value is not None and math.isfinite(value) else None
    return None


def _arithmetic(op: str, left: float, right: float) -> float | None:
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        if op == "^":
            return float(left**right)
    except (ZeroDivisionError, OverflowError, TypeError):  # complex powers too
        return None
    return None


def recorded_metrics(graph: ObjectGraph) -> frozenset[str]:
    """Metric names that recording rules of the input produce."""

    def build(graph: ObjectGraph) -> frozenset[str]:
        return frozenset(
            rule.name
            for resource in graph.of_kind("PrometheusRule")
            for rule in rule_exprs(resource)
            if rule.kind == "record"
        )

    return graph.derived("promql-recorded-metrics", build)

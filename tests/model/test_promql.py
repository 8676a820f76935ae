import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.promql import (
    comparisons,
    constant,
    parse_expr,
    recorded_metrics,
    rule_exprs,
    selectors,
)

RULE = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: r}
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expr: DCGM_FI_DEV_GPU_TEMP > 85
        - record: gpu:temp
          expr: 85
        - alert: Broken
          expr: "x{"
        - {alert: NoExpr}
"""


def resources(text):
    loaded = LoadResult()
    load_text(text, "x.yaml", result=loaded)
    return loaded.resources


def test_rule_exprs_reads_alerts_and_records():
    (resource,) = resources(RULE)
    rules = rule_exprs(resource)
    assert [(r.kind, r.name, r.path) for r in rules] == [
        ("alert", "A", ("spec", "groups", 0, "rules", 0, "expr")),
        ("record", "gpu:temp", ("spec", "groups", 0, "rules", 1, "expr")),
        ("alert", "Broken", ("spec", "groups", 0, "rules", 2, "expr")),
    ]
    assert rules[2].parsed is None
    assert rules[1].expr == "85"
    assert rule_exprs(resource) is rules  # memoised
    assert recorded_metrics(ObjectGraph([resource])) == {"gpu:temp"}


def test_rule_exprs_ignores_other_kinds():
    (resource,) = resources("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert rule_exprs(resource) == ()


def test_selectors_with_enclosing_functions():
    expr = parse_expr(
        'sum by (gpu) (rate(a[5m])) / on(gpu) {__name__="b", gpu="0"} '
        'and absent(c) or topk(3, d) unless {__name__=~"x.*"}'
    )
    found = [(s.name, s.enclosing) for s in selectors(expr)]
    assert found == [
        ("a", ("sum", "rate")),
        ("b", ()),
        ("c", ("absent",)),
        ("d", ("topk",)),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("x > 80", [("x", ">", 80.0, 1.0, 80.0)], id="plain"),
        pytest.param("80 < x", [("x", ">", 80.0, 1.0, 80.0)], id="flipped"),
        pytest.param("x * 100 > 80", [("x", ">", 80.0, 100.0, 0.8)], id="times"),
        pytest.param("100 * x > 80", [("x", ">", 80.0, 100.0, 0.8)], id="times-left"),
        pytest.param("x / 1024 > 70", [("x", ">", 70.0, 1 / 1024, 71680.0)], id="div"),
        pytest.param(
            "avg(max_over_time(x[5m])) >= bool (2 * 3)",
            [("x", ">=", 6.0, 1.0, 6.0)],
            id="same-unit-and-constant-arithmetic",
        ),
        pytest.param(
            "quantile_over_time(0.9, x[5m]) < 0.5",
            [("x", "<", 0.5, 1.0, 0.5)],
            id="quantile",
        ),
        pytest.param("sum(x) > 80", [], id="sum-changes-the-scale"),
        pytest.param("x + 10 > 80", [], id="offset"),
        pytest.param("10 / x > 80", [], id="inverse"),
        pytest.param("x / y > 0.5", [], id="two-metrics"),
        pytest.param("rate(x[5m]) > 0", [], id="rate"),
        pytest.param(
            "x > 80 and y < -1",
            [("x", ">", 80.0, 1.0, 80.0), ("y", "<", -1.0, 1.0, -1.0)],
            id="nested",
        ),
    ],
)
def test_comparisons(text, expected):
    found = [
        (c.metric, c.op, c.written, c.scale, pytest.approx(c.threshold))
        for c in comparisons(parse_expr(text))
    ]
    assert found == expected


def test_constant():
    assert constant(parse_expr("(2 + 3) * 4 ^ 2 - 1")) == 79.0
    assert constant(parse_expr("1 / 0")) is None
    assert constant(parse_expr("x")) is None
    assert constant(parse_expr("-(3)")) == -3.0


def test_parse_expr_rejects_garbage():
    assert parse_expr("x >") is None
    assert parse_expr("{{ .Values.x }}") is None
    assert parse_expr("") is None

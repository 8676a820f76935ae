import argparse
import io
import json

import pytest
import yaml

from kubernai.cli.dcgm import ALERTS, EXTRA_COUNTERS, add_dcgm_command, run_dcgm
from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from kubernai.model.dcgm import builtin_counters, field
from kubernai.model.promql import parse_expr, selectors


def invoke(*argv):
    parser = argparse.ArgumentParser()
    add_dcgm_command(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    code = run_dcgm(parser.parse_args(list(argv)), stdout=out)
    return code, out.getvalue()


def test_rules_yaml_is_a_prometheus_rule():
    code, out = invoke("dcgm", "rules", "--namespace", "gpu-monitoring")
    assert code == 0
    rule = yaml.safe_load(out)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["namespace"] == "gpu-monitoring"
    rules = rule["spec"]["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [a.name for a in ALERTS]
    for entry in rules:
        assert entry["labels"]["severity"] in {"critical", "warning", "info"}
        assert set(entry["annotations"]) == {"summary", "description", "runbook"}


def test_yaml_lists_the_csv_lines_the_alerts_need():
    _, out = invoke("dcgm", "rules")
    header = [line for line in out.splitlines() if line.startswith("#   DCGM_")]
    assert [line.split(",")[0][4:] for line in header] == sorted(EXTRA_COUNTERS)


def test_default_counters_leaves_out_alerts_on_other_fields():
    _, out = invoke("dcgm", "rules", "--default-counters")
    assert not out.startswith("#")
    names = {r["alert"] for r in yaml.safe_load(out)["spec"]["groups"][0]["rules"]}
    assert "GpuDoubleBitEccErrors" not in names
    assert {"GpuXidNeedsReset", "GpuRowRemapFailed", "GpuTemperatureHigh"} <= names
    enabled = builtin_counters("default-counters.csv", "4.5.3-4.8.2")
    for rule in yaml.safe_load(out)["spec"]["groups"][0]["rules"]:
        for selector in selectors(parse_expr(rule["expr"])):
            assert selector.name in enabled, (rule["alert"], selector.name)


def test_json_format():
    code, out = invoke("dcgm", "rules", "-f", "json", "--name", "x")
    assert code == 0
    assert json.loads(out)["metadata"]["name"] == "x"


def test_dcgm_without_action_prints_help_and_returns_usage():
    code, out = invoke("dcgm")
    assert code == 2
    assert "rules" in out


def test_every_alert_parses_and_reads_known_fields():
    for alert in ALERTS:
        parsed = parse_expr(alert.expr)
        assert parsed is not None, alert.name
        for selector in selectors(parsed):
            assert field(selector.name) is not None, selector.name
        assert set(alert.needs) <= set(EXTRA_COUNTERS)


@pytest.mark.parametrize("argv", [(), ("--default-counters",)])
def test_own_rules_pass_kubernais_dcgm_checks(argv):
    _, out = invoke("dcgm", "rules", *argv)
    loaded = LoadResult()
    load_text(out, "rules.yaml", result=loaded)
    codes = ["OPS052", "OPS053"] if not argv else ["OPS051", "OPS052", "OPS053"]
    report = run(loaded, config=Config(), rules=select_rules(Config(), only=codes))
    assert [f.message for f in report.findings] == []

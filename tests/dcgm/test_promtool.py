"""`kubernai dcgm rules` checked by Prometheus' own promtool.

promtool (Debian package `prometheus`) parses the rules (`check rules`) and
evaluates them on input series that must fire and must not fire
(`test rules`, dcgm_alerts_test.yml). Without promtool the tests skip and say
why.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kubernai.cli.dcgm import ALERTS, add_dcgm_command, run_dcgm

HERE = Path(__file__).parent
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (apt-get install prometheus); DCGM alert "
    "rules not evaluated",
)


def generated_rule(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_dcgm_command(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert run_dcgm(parser.parse_args(["dcgm", "rules", *argv]), stdout=out) == 0
    return yaml.safe_load(out.getvalue())


def write_rules(tmp_path: Path, rule: dict) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False), encoding="utf-8")
    return path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@needs_promtool
@pytest.mark.parametrize("argv", [(), ("--default-counters",)], ids=["all", "default"])
def test_promtool_check_rules(tmp_path, argv):
    path = write_rules(tmp_path, generated_rule(*argv))
    result = promtool("check", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_test_rules_fire_and_stay_quiet(tmp_path):
    write_rules(tmp_path, generated_rule())
    text = (HERE / "dcgm_alerts_test.yml").read_text(encoding="utf-8")
    for alert in ALERTS:
        # a JSON string is a YAML double-quoted scalar
        text = text.replace(f"__RUNBOOK_{alert.name}__", json.dumps(alert.runbook))
    assert "__RUNBOOK_" not in text
    (tmp_path / "dcgm_alerts_test.yml").write_text(text, encoding="utf-8")
    result = promtool("test", "rules", "dcgm_alerts_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested():
    text = (HERE / "dcgm_alerts_test.yml").read_text(encoding="utf-8")
    for alert in ALERTS:
        assert f"alertname: {alert.name}" in text, alert.name

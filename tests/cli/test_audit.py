"""``kubernai audit`` and ``kubernai snapshot`` in-process, against a fake API server."""

from __future__ import annotations

import gzip
import io
import json

import pytest
import yaml

from kubernai.cli import main as main_module
from kubernai.cli.audit import (
    FAIL_ON,
    REPORT_FORMATS,
    add_cluster_commands,
    run_cluster_command,
)
from kubernai.errors import EXIT_USAGE, KubernaiError
from tests.load.test_cluster import FORBIDDEN, FakeApiServer


def _subcommands(parser) -> dict:
    return next(a for a in parser._actions if a.dest == "command")


def _main(argv: list[str], *, stdout, stderr) -> int:
    """``main``; until cli/main.py dispatches audit and snapshot, the same steps."""
    parser = main_module.build_parser()
    commands = _subcommands(parser)
    if "audit" in commands.choices:
        return main_module.main(argv, stdout=stdout, stderr=stderr)
    add_cluster_commands(commands)
    try:
        args = parser.parse_args(argv)
    except main_module._UsageError as exc:
        print(exc, file=stderr)
        return EXIT_USAGE
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    try:
        code = run_cluster_command(args, stdout=stdout, stderr=stderr)
    except KubernaiError as exc:
        print(f"kubernai: error: {exc}", file=stderr)
        return exc.exit_code
    assert code is not None
    return code


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def invoke(*argv: str, stderr: io.StringIO | None = None):
    out, err = io.StringIO(), stderr or io.StringIO()
    code = _main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def api(tmp_path):
    with FakeApiServer() as server:
        server.always["/apis/networking.k8s.io/v1/networkpolicies"] = (403, FORBIDDEN)
        server.kubeconfig_path = str(server.kubeconfig(tmp_path))
        yield server


def codes(report: dict) -> list[str]:
    return [f["code"] for f in report["findings"]]


# --- snapshot ------------------------------------------------------------------


def test_snapshot_saves_a_kubectl_list(api, tmp_path):
    target = tmp_path / "cluster.json"
    code, out, err = invoke(
        "snapshot", "-o", str(target), "--kubeconfig", api.kubeconfig_path
    )
    assert code == 0
    assert out == ""
    document = json.loads(target.read_text())
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    kinds = {item["kind"] for item in document["items"]}
    assert {"Namespace", "Node", "Pod", "Deployment", "PyTorchJob", "Event"} <= kinds
    assert "Secret" not in kinds
    assert not any("secret" in r for r in api.requests)
    assert target.read_text().startswith(
        '{\n    "apiVersion": "v1",'
    )  # kubectl's indent
    assert (
        "kubernai: warning: cannot list networkpolicies.networking.k8s.io: 403" in err
    )
    assert "kubernai: saved 13 objects of 28 resources from context fake to" in err
    assert "2 ConfigMaps no rule reads left out" in err
    assert not (tmp_path / "cluster.json.partial").exists()


def test_snapshot_gzipped_yaml_is_read_by_check(api, tmp_path):
    target = tmp_path / "cluster.yaml.gz"
    code, _, _ = invoke(
        "snapshot", "-o", str(target), "--kubeconfig", api.kubeconfig_path
    )
    assert code == 0
    data = target.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    document = yaml.safe_load(gzip.decompress(data))
    assert document["kind"] == "List"
    code, out, _ = invoke_check(str(target))
    report = json.loads(out)
    assert "KAI001" not in codes(report)
    assert report["summary"]["objects"] == len(document["items"])


def invoke_check(*paths: str):
    out, err = io.StringIO(), io.StringIO()
    code = main_module.main(["check", "-f", "json", *paths], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_snapshot_to_stdout_and_explicit_format(api):
    code, out, _ = invoke(
        "snapshot", "-o", "-", "--format", "yaml", "--kubeconfig", api.kubeconfig_path
    )
    assert code == 0
    assert yaml.safe_load(out)["kind"] == "List"
    code, _, err = invoke(
        "snapshot", "-o", "-", "--gzip", "--kubeconfig", api.kubeconfig_path
    )
    assert code == 2
    assert "--gzip writes binary data" in err


def test_snapshot_shows_progress_on_a_terminal(api, tmp_path):
    terminal = Terminal()
    code, _, err = invoke(
        "snapshot",
        "-o",
        str(tmp_path / "s.json"),
        "--kubeconfig",
        api.kubeconfig_path,
        stderr=terminal,
    )
    assert code == 0
    assert "\rkubernai: reading pods (" in err
    assert "\rkubernai: read 28 resources, 13 objects" in err


# --- audit ---------------------------------------------------------------------


def test_audit_reports_unreadable_resources_and_goes_on(api):
    code, out, err = invoke("audit", "-f", "json", "--kubeconfig", api.kubeconfig_path)
    report = json.loads(out)
    assert report["summary"]["objects"] == 13
    (error,) = [e for e in report["errors"] if e["code"] == "KAI003"]
    assert error["file"] == "apis/networking.k8s.io/v1/networkpolicies"
    assert error["line"] == 1
    assert error["message"].startswith(
        "cannot list networkpolicies.networking.k8s.io: 403 Forbidden: "
    )
    finding = next(f for f in report["findings"] if f["code"] == "KAI003")
    assert finding["severity"] == "warning"
    assert code == 1  # the warning reaches the default --fail-on
    assert "kubernai: warning: cannot list networkpolicies" in err


def test_audit_text_shows_a_warning_line(api):
    code, out, _ = invoke(
        "audit", "--kubeconfig", api.kubeconfig_path, "--rule", "KAI001"
    )
    assert code == 1
    assert "apis/networking.k8s.io/v1/networkpolicies" in out
    assert "warning  KAI003 cluster-read-error  cannot list networkpolicies" in out


def test_audit_read_errors_can_be_turned_off(api):
    code, out, _ = invoke(
        "audit",
        "-f",
        "json",
        "--kubeconfig",
        api.kubeconfig_path,
        "--disable",
        "cluster-read-error",
        "--rule",
        "KAI001",
    )
    assert code == 0
    assert json.loads(out)["errors"] == []


def test_live_objects_are_located_by_api_path(api):
    _, out, _ = invoke("audit", "-f", "json", "--kubeconfig", api.kubeconfig_path)
    files = {f["file"] for f in json.loads(out)["findings"] if f["object"]}
    assert files, "the fake cluster's GPU pods should draw findings"
    assert all(f.startswith(("api/", "apis/")) for f in files)


def test_audit_of_a_snapshot_finds_what_the_live_audit_finds(api, tmp_path):
    snapshot = tmp_path / "cluster.json.gz"
    assert (
        invoke("snapshot", "-o", str(snapshot), "--kubeconfig", api.kubeconfig_path)[0]
        == 0
    )
    _, live_out, _ = invoke("audit", "-f", "json", "--kubeconfig", api.kubeconfig_path)
    code, saved_out, _ = invoke("audit", "-f", "json", "--snapshot", str(snapshot))
    assert code == 1

    def seen(out: str) -> set:
        return {
            (f["code"], json.dumps(f["object"]), f["message"], f["path"])
            for f in json.loads(out)["findings"]
            if f["code"] != "KAI003"
        }

    assert seen(live_out) == seen(saved_out)
    assert seen(live_out)


def test_kubectl_output_is_valid_audit_input(tmp_path):
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e1", "namespace": "ml"},
                "reason": "FailedScheduling",
            },
        ],
    }
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(listing, indent=4))
    code, out, _ = invoke("audit", "-f", "json", "--snapshot", str(path))
    report = json.loads(out)
    assert report["summary"]["objects"] == 2
    assert "KAI001" not in codes(report)
    assert code in (0, 1)


def test_a_gzip_bomb_is_an_invalid_manifest(tmp_path):
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * (4 * 2**20)))
    code, out, _ = invoke(
        "audit", "-f", "json", "--snapshot", str(bomb), "--max-file-size", "1"
    )
    report = json.loads(out)
    (error,) = report["errors"]
    assert error["code"] == "KAI001"
    assert "decompresses to over the 1 MiB limit" in error["message"]
    assert code == 1


def test_audit_writes_the_report_to_a_file(api, tmp_path):
    target = tmp_path / "report.sarif"
    code, out, err = invoke(
        "audit", "-f", "sarif", "-o", str(target), "--kubeconfig", api.kubeconfig_path
    )
    assert code == 1
    assert out == ""
    sarif = json.loads(target.read_text())
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert "apis/networking.k8s.io/v1/networkpolicies" in uris
    assert "in 1 file" in err


# --- errors --------------------------------------------------------------------


def test_an_unreachable_cluster_is_exit_2(tmp_path):
    server = FakeApiServer()
    kubeconfig = server.kubeconfig(tmp_path)
    server.httpd.server_close()
    code, out, err = invoke(
        "audit", "--kubeconfig", str(kubeconfig), "--request-timeout", "1"
    )
    assert code == 2
    assert out == ""
    assert err.startswith(
        "kubernai: error: cannot read the cluster at http://127.0.0.1:"
    )
    assert "(context fake): connection failed" in err


def test_unknown_context_and_missing_kubeconfig_are_exit_2(api, tmp_path):
    code, _, err = invoke(
        "audit", "--kubeconfig", api.kubeconfig_path, "--context", "prod"
    )
    assert code == 2
    assert "context 'prod' is not in" in err
    code, _, err = invoke(
        "snapshot", "-o", "x.json", "--kubeconfig", str(tmp_path / "nope")
    )
    assert code == 2
    assert "kubeconfig not found" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["audit", "--snapshot", "s.json", "--context", "x"],
            "--snapshot audits a file",
        ),
        (["audit", "--request-timeout", "0"], "--request-timeout must be positive"),
        (["audit", "--snapshot", "s.json", "--max-file-size", "0"], "--max-file-size"),
        (["snapshot"], "the following arguments are required: -o/--output"),
        (["audit", "--snapshot", "missing.json"], "no such file"),
    ],
)
def test_usage_errors_are_exit_2(argv, message):
    code, _, err = invoke(*argv)
    assert code == 2
    assert message.split(" must")[0] in err


def test_the_same_report_options_as_check():
    assert REPORT_FORMATS == main_module.FORMATS
    assert FAIL_ON == main_module.FAIL_ON


def test_other_commands_are_not_handled_here():
    import argparse

    args = argparse.Namespace(command="check")
    assert run_cluster_command(args, stdout=io.StringIO(), stderr=io.StringIO()) is None


def test_help_describes_the_commands(capsys):
    code, _, _ = invoke("snapshot", "--help")
    assert code == 0
    assert "Secrets are never read" in " ".join(capsys.readouterr().out.split())
    code, _, _ = invoke("audit", "--help")
    assert code == 0
    assert "KAI003" in capsys.readouterr().out

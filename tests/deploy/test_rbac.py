"""deploy/: a read-only, least-privilege ClusterRole that covers what the audit reads."""

from __future__ import annotations

import pytest
import yaml

from kubernai.load.cluster import TARGETS
from kubernai.load.files import load_paths
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
READ_VERBS = {"get", "list", "watch"}


def documents(name: str) -> list[dict]:
    text = (DEPLOY / name).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def the(kind: str, name: str = "rbac.yaml") -> dict:
    (found,) = [d for d in documents(name) if d["kind"] == kind]
    return found


@pytest.fixture(scope="module")
def role() -> dict:
    return the("ClusterRole")


def grants(role: dict) -> set[tuple[str, str]]:
    return {
        (group, resource)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
    }


def test_role_only_reads(role):
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS, rule
        assert "*" not in rule.get("apiGroups", []) + rule.get("resources", [])
        assert "resourceNames" not in rule
        assert "nonResourceURLs" not in rule


def test_role_grants_nothing_on_secrets(role):
    assert not any(resource.split("/")[0] == "secrets" for _, resource in grants(role))
    assert not any("/" in resource for _, resource in grants(role))  # no subresources


def test_role_grants_every_resource_the_audit_reads(role):
    wanted = {(t.group, t.plural) for t in TARGETS}
    assert wanted - grants(role) == set(), "grant these in deploy/rbac.yaml"


def test_role_grants_nothing_the_audit_does_not_read(role):
    wanted = {(t.group, t.plural) for t in TARGETS}
    assert grants(role) - wanted == set(), "least privilege: drop these"


def test_binding_gives_the_role_to_the_service_account(role):
    account = the("ServiceAccount")
    binding = the("ClusterRoleBinding")
    assert account["metadata"] == {"name": "kubernai", "namespace": "kubernai"}
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kubernai", "namespace": "kubernai"}
    ]
    assert the("Namespace")["metadata"]["name"] == "kubernai"


def test_cronjob_runs_the_json_audit_as_the_service_account():
    cronjob = the("CronJob", "cronjob.yaml")
    assert cronjob["metadata"]["namespace"] == "kubernai"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubernai"
    (container,) = pod["containers"]
    assert container["args"][:3] == ["audit", "-f", "json"]
    assert "REPLACE-ME" in container["image"]  # a placeholder, marked as such
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_deploy_manifests_pass_kubernai_check():
    from kubernai.config import Config
    from kubernai.engine import run, select_rules

    loaded = load_paths([str(DEPLOY)])
    assert loaded.invalid == []
    config = Config()
    report = run(loaded, config=config, rules=select_rules(config))
    assert [f"{f.code} {f.message}" for f in report.findings] == []

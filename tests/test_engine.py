from __future__ import annotations

from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from kubernai.rules.catalog import all_rules


def test_kind_filters_skip_rules_that_cannot_apply(monkeypatch):
    calls: list[tuple[str, str]] = []
    rules = select_rules(Config())
    for rule in rules:
        original = type(rule).check

        def spy(self, resource, graph, _original=original):
            calls.append((self.code, resource.kind))
            return _original(self, resource, graph)

        monkeypatch.setattr(type(rule), "check", spy)
    loaded = LoadResult()
    load_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\n",
        "x.yaml",
        result=loaded,
    )
    run(loaded, config=Config(), rules=rules)
    by_kind = {}
    for code, kind in calls:
        by_kind.setdefault(kind, set()).add(code)
    rules_by_code = all_rules()
    for kind, codes in by_kind.items():
        for code in codes:
            rule = rules_by_code[code]
            assert not rule.workloads_only
            assert not rule.kinds or kind in rule.kinds
    assert "CLU005" in by_kind["ResourceQuota"]
    assert "CLU005" not in by_kind.get("ConfigMap", set())

"""The conventions every rule keeps: cases, docs, codes, names, mechanisms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubernai.cli.catalog import rules_markdown
from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from kubernai.model.mechanisms import mechanisms
from kubernai.rules.base import Rule
from kubernai.rules.catalog import all_rules
from tests.conftest import ROOT
from tests.rules.cases import CASES_DIR, all_case_files, load_case_file

RULES = list(all_rules().values())
# KAI002 reports a crashing rule: no manifest triggers it; tests/cli covers it.
NOT_TRIGGERABLE = {"KAI002", "KAI003"}  # KAI003: a cluster read (tests/cli)


def case_file(rule: type[Rule]) -> Path:
    module = rule.__module__.split(".")
    return CASES_DIR / module[-2] / f"{module[-1]}.yml"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_pass_fail_and_malformed_cases(rule):
    if rule.code in NOT_TRIGGERABLE:
        pytest.skip("not triggerable from a manifest")
    path = case_file(rule)
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    cases = load_case_file(path)
    assert {c.rule for c in cases} == {rule.code}
    names = [c.name for c in cases]
    assert any(n.startswith("pass_") for n in names)
    assert any(n.startswith("fail_") for n in names)
    assert any("malformed" in n for n in names)


def test_every_case_file_belongs_to_a_rule_module():
    modules = {case_file(rule) for rule in RULES}
    for path in all_case_files():
        assert path in modules, f"{path} does not mirror a rule module"


def first_yaml_block(text: str) -> str:
    match = re.search(r"```yaml\n(.*?)```", text, flags=re.S)
    assert match, "no ```yaml block"
    return match.group(1)


def findings_of(rule: type[Rule], text: str):
    loaded = LoadResult()
    load_text(text, "doc.yaml", result=loaded)
    config = Config()
    report = run(loaded, config=config, rules=select_rules(config, only=[rule.code]))
    return [f for f in report.findings if f.code == rule.code]


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_docs_cannot_lie(rule):
    if rule.code in NOT_TRIGGERABLE:
        pytest.skip("not triggerable from a manifest")
    example = first_yaml_block(rule.section_text("Example"))
    fixed = first_yaml_block(rule.section_text("Use instead"))
    assert findings_of(rule, example), "the Example does not trigger the rule"
    assert findings_of(rule, fixed) == [], "the Use instead block triggers the rule"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_metadata(rule):
    assert re.fullmatch(r"(SRV|TRN|CLU|OPS|KAI)\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name)
    if rule.code.startswith("KAI"):
        assert rule.tool_level
    else:
        assert rule.mechanism in mechanisms()
    assert rule.summary()
    assert rule.section_text("References")


def test_codes_and_names_are_unique():
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def test_thirty_mechanisms_in_four_sections():
    found = mechanisms()
    assert len(found) == 30
    assert {m.section for m in found.values()} == {
        "serve",
        "train",
        "cluster",
        "operate",
    }


def test_readme_rule_table_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", readme, flags=re.S
    )
    assert match, "README.md lacks the generated rule table markers"
    assert match.group(1) == rules_markdown(), "run: kubernai rules --format md"


def test_mechanisms_match_the_seed_feed():
    import xml.etree.ElementTree as ET

    from tests.conftest import SHARED, require_shared

    feed = require_shared(SHARED / "seed" / "kubernai-rss.xml")
    items = ET.parse(feed).getroot().findall("./channel/item")
    expected = {}
    for item in items:
        slug = item.findtext("link").rstrip("/").rsplit("/", 1)[1]
        categories = [c.text for c in item.findall("category")]
        expected[slug] = (
            item.findtext("title"),
            categories[0],
            tuple(categories[1:]),
            item.findtext("description"),
        )
    found = {
        m.slug: (m.title, m.section, m.tags, m.description)
        for m in mechanisms().values()
    }
    assert found == expected

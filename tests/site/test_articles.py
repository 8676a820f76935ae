"""The 30 articles: front matter, length, snippets that parse and tell the truth."""

from __future__ import annotations

import re

import pytest
import yaml

from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from kubernai.model.mechanisms import mechanisms
from kubernai.rules.catalog import all_rules
from kubernai.site.articles import articles
from kubernai.site.coverage import CALCULATORS, rules_for

SLUGS = list(mechanisms())
_SNIPPET = re.compile(
    r"(?:<!-- (fails|passes): ([A-Z]{3}\d{3}) -->\n)?```yaml\n(.*?)```", re.S
)


def _article(slug):
    found = articles().get(slug)
    if found is None:
        pytest.fail(
            f"src/kubernai/reference/{mechanisms()[slug].section}/{slug}.md is missing"
        )
    return found


@pytest.mark.parametrize("slug", SLUGS)
def test_front_matter_equals_the_feed(slug):
    article = _article(slug)
    mechanism = mechanisms()[slug]
    assert article.title == mechanism.title
    assert article.description == mechanism.description
    assert article.section == mechanism.section
    assert article.tags == mechanism.tags


@pytest.mark.parametrize("slug", SLUGS)
def test_length_and_structure(slug):
    article = _article(slug)
    assert 900 <= article.words <= 2000, article.words
    assert "<!-- kubernai:checks -->" in article.body
    assert "## Sources" in article.body
    assert not article.body.lstrip().startswith("# ")


def _findings(code: str, text: str):
    loaded = LoadResult()
    load_text(text, "snippet.yaml", result=loaded)
    config = Config()
    report = run(loaded, config=config, rules=select_rules(config, only=[code]))
    return [f for f in report.findings if f.code == code]


@pytest.mark.parametrize("slug", SLUGS)
def test_snippets_parse_and_markers_hold(slug):
    article = _article(slug)
    for mark, code, text in _SNIPPET.findall(article.body):
        list(yaml.safe_load_all(text))
        if mark == "fails":
            assert _findings(code, text), (
                f"{slug}: the snippet marked fails: {code} does not fire"
            )
        elif mark == "passes":
            assert not _findings(code, text), (
                f"{slug}: the snippet marked passes: {code} fires"
            )


@pytest.mark.parametrize("slug", SLUGS)
def test_article_links_to_a_check_or_calculator(slug):
    assert rules_for(slug) or slug in CALCULATORS


def test_every_rule_links_to_an_article():
    slugs = set(articles())
    for rule in all_rules().values():
        if rule.mechanism:
            assert rule.mechanism in slugs, (
                f"{rule.code} links to {rule.mechanism}, which has no article"
            )

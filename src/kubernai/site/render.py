"""Markdown to HTML for articles and rule pages, with highlighted code."""

from __future__ import annotations

import html
import re

import markdown

from kubernai.site.articles import CHECKS_MARKER, Article
from kubernai.site.coverage import coverage_markdown

_EXTENSIONS = ["fenced_code", "tables", "codehilite", "toc", "sane_lists"]
_CONFIG: dict[str, dict[str, object]] = {
    "codehilite": {"guess_lang": False, "css_class": "highlight"},
    "toc": {"permalink": False},
}


def article_markdown(article: Article) -> str:
    """The article's Markdown with the generated coverage section in place."""
    section = coverage_markdown(article.slug)
    if CHECKS_MARKER in article.body:
        return article.body.replace(CHECKS_MARKER, section)
    return article.body.rstrip() + "\n\n" + section


def to_html(text: str) -> str:
    """Render Markdown to HTML (fenced code highlighted, tables, anchors)."""
    rendered: str = markdown.markdown(
        text, extensions=_EXTENSIONS, extension_configs=_CONFIG
    )
    return rendered


def plain_text(text: str) -> str:
    """Markdown stripped to words, for the search index."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"[#*`|>\[\]()_-]+", " ", text)
    return html.unescape(re.sub(r"\s+", " ", text)).strip()

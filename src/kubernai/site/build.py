"""``kubernai site build``: the reference as a static site with its RSS feed.

Pages: an index by section, one page per section, tag, article and rule, a
rule index and a client-side search page (``search.json``; no external
service, fonts or scripts). Links are relative, so the site works under any
base URL; the feed's links use ``base_url``. The output is byte-stable.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from kubernai._version import __version__
from kubernai.errors import InputError
from kubernai.model.mechanisms import SITE, mechanisms
from kubernai.rules.catalog import all_rules
from kubernai.site.articles import Article, articles
from kubernai.site.feed import rss
from kubernai.site.render import article_markdown, plain_text, to_html

SECTIONS = ("serve", "train", "cluster", "operate")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kubernai.site", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.env = _environment()
        self.written: list[str] = []

    def page(
        self,
        path: str,
        template: str,
        *,
        title: str,
        description: str,
        **values: object,
    ) -> None:
        depth = path.count("/")
        root = "../" * depth
        content = self.env.get_template(template).render(root=root, **values)
        content = content.replace('href="/', f'href="{root}')
        html = self.env.get_template("base.html").render(
            root=root,
            title=title,
            description=description,
            sections=SECTIONS,
            version=__version__,
            content=Markup(content),
        )
        self.file(path, html)

    def file(self, path: str, text: str) -> None:
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        self.written.append(path)


def build_site(out: Path, *, base_url: str = SITE) -> list[str]:
    """Write the site into ``out``; returns the files written (relative paths)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{out}: cannot create the site folder: {exc.strerror or exc}"
        ) from exc
    found = list(articles().values())
    if not found:
        raise InputError("no articles found in the package")
    writer = _Writer(out)
    by_section: dict[str, list[Article]] = defaultdict(list)
    by_tag: dict[str, list[Article]] = defaultdict(list)
    for article in found:
        by_section[article.section].append(article)
        for tag in article.tags:
            by_tag[tag].append(article)
    writer.page(
        "index.html",
        "index.html",
        title="kubernai",
        description="The mechanism reference for AI workloads on Kubernetes.",
        sections_articles=[(s, by_section[s]) for s in SECTIONS if by_section[s]],
    )
    for section in SECTIONS:
        writer.page(
            f"sections/{section}/index.html",
            "list.html",
            title=section,
            description=f"Articles of the {section} section.",
            heading=f"Section: {section}",
            items=by_section[section],
        )
    for tag in sorted(by_tag):
        writer.page(
            f"tags/{tag}/index.html",
            "list.html",
            title=tag,
            description=f"Articles tagged {tag}.",
            heading=f"Tag: {tag}",
            items=by_tag[tag],
        )
    index = []
    for article in found:
        text = article_markdown(article)
        writer.page(
            f"articles/{article.slug}/index.html",
            "article.html",
            title=article.title,
            description=article.description,
            article=article,
            body=Markup(to_html(text)),
        )
        index.append(
            {
                "path": article.path,
                "title": article.title,
                "summary": article.description,
                "text": plain_text(
                    f"{article.title} {' '.join(article.tags)} {text}"
                ).lower(),
            }
        )
    rules = list(all_rules().values())
    writer.page(
        "rules/index.html",
        "rules.html",
        title="Rules",
        description="Every kubernai check.",
        rules=rules,
    )
    for rule in rules:
        mechanism = mechanisms().get(rule.mechanism)
        writer.page(
            f"rules/{rule.name}/index.html",
            "rule.html",
            title=f"{rule.code} {rule.name}",
            description=rule.summary(),
            rule=rule,
            mechanism=mechanism,
            body=Markup(to_html(rule.doc().split("\n", 1)[1])),
        )
        index.append(
            {
                "path": f"/rules/{rule.name}/",
                "title": f"{rule.code} {rule.name}",
                "summary": rule.summary(),
                "text": plain_text(f"{rule.code} {rule.name} {rule.doc()}").lower(),
            }
        )
    writer.page(
        "search/index.html",
        "search.html",
        title="Search",
        description="Search the reference and the rules.",
    )
    writer.file(
        "search.json", json.dumps(index, ensure_ascii=False, sort_keys=True) + "\n"
    )
    static = resources.files("kubernai.site").joinpath("static")
    for name in ("search.js", "style.css"):
        writer.file(f"static/{name}", static.joinpath(name).read_text("utf-8"))
    writer.file("rss.xml", rss(found, base_url))
    return writer.written

"""The 30 articles of the reference: Markdown files with front matter.

Each article lives at ``kubernai/reference/<section>/<slug>.md`` and starts
with a YAML front matter block equal to its item in the reference's feed:
``slug``, ``title``, ``description``, ``pubDate``, ``section`` and ``tags``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from kubernai.errors import InputError

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
CHECKS_MARKER = "<!-- kubernai:checks -->"
"""Where the generated list of checks and calculators goes in an article."""


@dataclass(frozen=True, slots=True)
class Article:
    """One article: its front matter and its Markdown body."""

    slug: str
    title: str
    description: str
    pub_date: str
    section: str
    tags: tuple[str, ...]
    body: str

    @property
    def path(self) -> str:
        """The article's path on the site."""
        return f"/articles/{self.slug}/"

    @property
    def words(self) -> int:
        """Words in the body, code excluded."""
        prose = re.sub(r"```.*?```", " ", self.body, flags=re.S)
        return len(re.findall(r"[A-Za-z0-9][\w'’-]*", prose))


def parse_article(text: str, name: str) -> Article:
    """Parse one article file; ``name`` is used in errors."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise InputError(f"{name}: an article starts with a --- front matter block")
    meta = yaml.safe_load(match.group(1))
    if not isinstance(meta, dict):
        raise InputError(f"{name}: front matter must be a mapping")
    missing = {
        "slug",
        "title",
        "description",
        "pubDate",
        "section",
        "tags",
    } - meta.keys()
    if missing:
        raise InputError(f"{name}: front matter lacks {', '.join(sorted(missing))}")
    return Article(
        slug=str(meta["slug"]),
        title=str(meta["title"]),
        description=str(meta["description"]),
        pub_date=str(meta["pubDate"]),
        section=str(meta["section"]),
        tags=tuple(str(t) for t in meta["tags"]),
        body=text[match.end() :],
    )


@cache
def articles() -> dict[str, Article]:
    """Every article by slug, in section then slug order."""
    root = resources.files("kubernai").joinpath("reference")
    found: dict[str, Article] = {}
    for section in ("serve", "train", "cluster", "operate"):
        folder = root.joinpath(section)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".md"):
                article = parse_article(
                    entry.read_text("utf-8"), f"{section}/{entry.name}"
                )
                found[article.slug] = article
    return found


def article(slug: str) -> Article | None:
    """An article by slug."""
    return articles().get(slug)

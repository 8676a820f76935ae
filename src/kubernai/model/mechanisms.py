"""The 30 mechanisms of the reference, as its feed lists them (data/mechanisms.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

SITE = "https://kubernai.vercel.app"


@dataclass(frozen=True, slots=True)
class Mechanism:
    """One article of the reference."""

    slug: str
    title: str
    section: str
    description: str
    tags: tuple[str, ...]

    @property
    def url(self) -> str:
        """The article's address on the reference site."""
        return f"{SITE}/articles/{self.slug}/"


@cache
def mechanisms() -> dict[str, Mechanism]:
    """All mechanisms by slug, in the feed's order."""
    text = (
        resources.files("kubernai").joinpath("data/mechanisms.json").read_text("utf-8")
    )
    return {
        item["slug"]: Mechanism(
            slug=item["slug"],
            title=item["title"],
            section=item["section"],
            description=item["description"],
            tags=tuple(item["tags"]),
        )
        for item in json.loads(text)["mechanisms"]
    }

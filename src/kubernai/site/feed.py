"""The RSS 2.0 feed of the reference, item for item as the seed feed."""

from __future__ import annotations

from xml.sax.saxutils import escape

from kubernai.model.mechanisms import mechanisms
from kubernai.site.articles import Article

CHANNEL_TITLE = "kubernai"
CHANNEL_DESCRIPTION = (
    "Mechanism reference for running AI workloads on Kubernetes. One article, one "
    "specific mechanism, with the real APIs and the real failure modes."
)


def _text(value: str) -> str:
    return escape(value, {"'": "&apos;", '"': "&quot;"})


def rss(articles: list[Article], base_url: str) -> str:
    """RSS 2.0, one item per article, in the reference feed's order (newest first)."""
    base = base_url.rstrip("/") + "/"
    items = []
    order = {slug: index for index, slug in enumerate(mechanisms())}
    ordered = sorted(articles, key=lambda a: order.get(a.slug, len(order)))
    for article in ordered:
        link = base + article.path.lstrip("/")
        categories = "".join(
            f"<category>{_text(c)}</category>" for c in (article.section, *article.tags)
        )
        items.append(
            f"<item><title>{_text(article.title)}</title><link>{_text(link)}</link>"
            f'<guid isPermaLink="true">{_text(link)}</guid>'
            f"<description>{_text(article.description)}</description>"
            f"<pubDate>{_text(article.pub_date)}</pubDate>{categories}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{CHANNEL_TITLE}</title><description>{_text(CHANNEL_DESCRIPTION)}"
        f"</description><link>{_text(base)}</link><language>en-us</language>"
        + "".join(items)
        + "</channel></rss>\n"
    )

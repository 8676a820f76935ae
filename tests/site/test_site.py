"""``kubernai site build``: the feed equals the seed, links resolve, output is stable."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kubernai.cli.main import main
from kubernai.model.mechanisms import mechanisms
from kubernai.site.articles import articles
from tests.conftest import SHARED, require_shared

ALL_ARTICLES = len(articles()) == len(mechanisms())
needs_articles = pytest.mark.skipif(
    not ALL_ARTICLES, reason="not all 30 articles are written yet"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert main(["site", "build", str(out)]) == 0
    return out


def _items(path: Path) -> list[dict]:
    root = ET.parse(path).getroot()
    found = []
    for item in root.findall("./channel/item"):
        found.append(
            {
                "title": item.findtext("title"),
                "path": urlparse(item.findtext("link")).path,
                "guid": item.findtext("guid"),
                "description": item.findtext("description"),
                "pubDate": item.findtext("pubDate"),
                "categories": [c.text for c in item.findall("category")],
            }
        )
    return found


@needs_articles
def test_feed_items_equal_the_seed(site):
    seed = require_shared(SHARED / "seed" / "kubernai-rss.xml")
    assert _items(site / "rss.xml") == _items(seed)


@needs_articles
def test_feed_without_shared_has_thirty_items(site):
    items = _items(site / "rss.xml")
    assert [i["path"] for i in items] == [f"/articles/{slug}/" for slug in mechanisms()]


def test_base_url_changes_only_the_feed_host(tmp_path):
    assert (
        main(
            [
                "site",
                "build",
                str(tmp_path),
                "--base-url",
                "https://docs.example.com/ai/",
            ]
        )
        == 0
    )
    feed = (tmp_path / "rss.xml").read_text()
    assert "https://docs.example.com/ai/articles/" in feed


def test_internal_links_resolve(site):
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for link in re.findall(r'(?:href|src)="([^"#]+)', html):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            target = (page.parent / link).resolve()
            if link.endswith("/"):
                target = target / "index.html"
            assert target.exists(), f"{page.relative_to(site)} links to {link}"


def test_search_index_covers_articles_and_rules(site):
    index = json.loads((site / "search.json").read_text())
    paths = {entry["path"] for entry in index}
    assert {f"/articles/{slug}/" for slug in articles()} <= paths
    assert "/rules/gpu-pod-without-gpu-toleration/" in paths


def test_output_is_byte_stable(tmp_path):
    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                h.update(str(path.relative_to(folder)).encode())
                h.update(path.read_bytes())
        return h.hexdigest()

    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["site", "build", str(first)]) == 0
    assert main(["site", "build", str(second)]) == 0
    assert digest(first) == digest(second)


def test_no_external_fonts_or_scripts(site):
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html), page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_renders_in_headless_chromium(site, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    page = site / "articles" / next(iter(articles())) / "index.html"
    if not page.exists():
        page = site / "index.html"
    shot = tmp_path / "page.png"
    common = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    done = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
         "--window-size=390,844", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.exists(), done.stderr[-2000:]
    assert shot.stat().st_size > 1000
    console_errors = [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line and "ERROR" in line.upper()
    ]
    assert console_errors == []
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "<h1>" in dom.stdout

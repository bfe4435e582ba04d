"""What a person sees: a real `serve()` on 127.0.0.1 driven by headless Chromium (Debian's
/usr/bin/chromium; CJK glyphs need fonts-noto-cjk).  Screenshots land in the test's tmp_path."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from corpus_factory import ARTICLES
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


@pytest.fixture(scope="module")
def base_url(corpus):
    port = free_port()
    code = f"from crawler.browse.serve import serve; serve({str(corpus.path)!r}, port={port})"
    server = subprocess.Popen([sys.executable, "-c", code],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/-/versions.json", server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
        server.stderr.close()


@pytest.fixture(scope="module")
def page(base_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        yield page
        browser.close()


def test_list_search_and_read_an_article(page, base_url, tmp_path):
    page.goto(f"{base_url}/corpus/articles")
    for key in ARTICLES:
        expect(page.get_by_text(ARTICLES[key]["title"], exact=True).first).to_be_visible()
    page.screenshot(path=tmp_path / "1-articles.png")

    page.fill("#_search", "开源")
    page.press("#_search", "Enter")
    page.wait_for_url("**/corpus/articles?_search=*")
    expect(page.locator("#_search")).to_have_value("开源")  # what was typed, not the MATCH
    expect(page.locator("h3").first).to_contain_text("3 rows")
    marks = page.locator("td.col-text mark")
    expect(marks.first).to_be_visible()
    assert set(marks.all_inner_texts()) == {"开源", "開源"}  # both scripts found and marked
    page.screenshot(path=tmp_path / "2-search.png", full_page=True)

    page.get_by_text("Rank these results by relevance").click()
    page.wait_for_url("**/corpus/search?q=*")
    first = page.locator("td.col-article a").first
    expect(first).to_contain_text("開源")  # the Traditional title match ranks first
    expect(page.locator("td.col-passage mark").first).to_be_visible()
    page.screenshot(path=tmp_path / "3-ranked.png", full_page=True)

    first.click()
    page.wait_for_url("**/corpus/articles/*")
    expect(page.locator("h1.tw-title")).to_have_text(ARTICLES["hant"]["title"])
    paragraphs = page.locator(".tw-text p")
    expect(paragraphs).to_have_count(2)
    expect(paragraphs.first.locator("mark")).to_have_text("開源")
    expect(page.locator(".tw-topics")).to_contain_text("open-source")
    expect(page.locator(".tw-all-fields")).not_to_have_attribute("open", "")
    page.screenshot(path=tmp_path / "4-article.png", full_page=True)
    for name in ("1-articles", "2-search", "3-ranked", "4-article"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_cjk_text_is_drawn_with_a_cjk_font(page, base_url):
    """Without a CJK font Chromium draws tofu boxes of one width for every character."""
    page.goto(f"{base_url}/corpus/articles/1")
    widths = page.evaluate("""() => {
        const c = document.createElement('canvas').getContext('2d');
        c.font = '32px sans-serif';
        return ['算', '力', '開', 'W', 'i'].map(ch => c.measureText(ch).width);
    }""")
    assert widths[0] == widths[1] == widths[2] and widths[3] != widths[4]
    fonts = page.evaluate("() => document.fonts.check('32px \"Noto Sans CJK SC\"', '算力')")
    assert fonts is True

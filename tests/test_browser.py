"""What a person sees: a real `serve()` on 127.0.0.1 driven by headless Chromium (Debian's
/usr/bin/chromium; CJK glyphs need fonts-noto-cjk).  Screenshots land in the test's tmp_path."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import feedparser
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
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    """A desktop window, 1280 px wide."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context.new_page()
    context.close()


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


# ---------------------------------------------------------------- the reader's pages

OVERFLOW = """() => ({
  scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth,
  inner: [...document.querySelectorAll('*')].filter(e => e.checkVisibility()
      && e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .map(e => `${e.tagName}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`),
  wider: [...document.querySelectorAll('body *')].filter(e => e.checkVisibility()
      && e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => `${e.tagName}.${e.className}`).slice(0, 5)})"""


def assert_no_sideways_scroll(page) -> None:
    """Neither the page nor a box inside it scrolls sideways (Datasette wraps tables in a
    scrolling box, so the page's own width alone proves nothing), nothing sticks out."""
    m = page.evaluate(OVERFLOW)
    assert m["scrollWidth"] <= m["innerWidth"], m
    assert m["inner"] == [] and m["wider"] == [], m


@pytest.fixture
def phone(browser):
    """A phone's screen, 390 px wide."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


def story_titles(page) -> list[str]:
    return page.locator("li.tw-story h3 a").all_inner_texts()


def test_the_front_page_shows_new_stories_one_row_each(page, base_url, tmp_path):
    page.goto(base_url + "/")
    expect(page.locator("h1")).to_have_text("New stories")
    assert story_titles(page) == [ARTICLES[k]["title"] for k in ("compute", "qwen", "hant", "english")]
    qwen = page.locator("li.tw-story").nth(1)
    expect(qwen.locator(".tw-source")).to_have_text("36kr")
    expect(qwen.locator("a.tw-also")).to_have_text("also in 2 sources")
    assert qwen.locator("a.tw-badge").all_inner_texts() == ["llm-industry", "open-source"]
    expect(qwen.locator("a.tw-badge").first).to_be_visible()
    passage = qwen.locator(".tw-passage")
    line = float(passage.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert passage.bounding_box()["height"] <= 2 * line + 2  # two lines at most
    assert_no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "front-1280.png", full_page=True)

    qwen.locator("a.tw-also").click()
    page.wait_for_url("**/-/topicwatch/story/*")
    versions = page.locator("li.tw-version .tw-source").all_inner_texts()
    assert versions == ["36kr", "sina-tech", "163-tech"]
    expect(page.locator("li.tw-version").nth(2)).to_contain_text("exact copy")
    assert_no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "story-1280.png", full_page=True)
    assert (tmp_path / "front-1280.png").stat().st_size > 10_000


def test_a_search_on_the_front_page_and_its_feed(page, base_url):
    page.goto(base_url + "/")
    page.fill("input[name=q]", "开源")
    page.select_option("select[name=topic]", "compute")
    page.click("input[type=submit]")
    page.wait_for_url("**/?q=*")
    assert story_titles(page) == [ARTICLES["hant"]["title"]]  # 開源 in Traditional, and compute
    expect(page.locator(".tw-passage mark").first).to_have_text("開源")
    feed_url = page.locator("a.tw-feed").get_attribute("href")
    assert feed_url == "/-/topicwatch/feed.atom?q=%E5%BC%80%E6%BA%90&topic=compute"
    response = page.request.get(base_url + feed_url)  # what a feed reader would fetch
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert [e.link for e in feed.entries] == [ARTICLES["hant"]["url"]]
    assert feed.feed.title == "topicwatch: 开源 · topic compute"


def test_the_articles_list_fits_the_screen(page, base_url, tmp_path):
    page.goto(f"{base_url}/corpus/articles")
    headers = page.locator("table.rows-and-columns th").evaluate_all("ths => ths.map(t => t.dataset.column)")
    assert headers == ["id", "title", "source", "published", "topics", "script"]
    expect(page.locator("dl.column-descriptions")).to_be_hidden()
    assert_no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "articles-1280.png")
    page.get_by_text("All fields").click()  # every column: Datasette's table box scrolls
    page.wait_for_url("**/corpus/articles?_all=1")
    assert any(box.startswith("DIV.table-wrapper") for box in page.evaluate(OVERFLOW)["inner"])


def test_readable_on_a_phone(phone, base_url, tmp_path):
    phone.goto(base_url + "/")
    assert len(story_titles(phone)) == 4
    assert_no_sideways_scroll(phone)
    for selector in ("li.tw-story h3 a", ".tw-passage", ".tw-meta"):
        size = phone.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 13, (selector, size)
    box = phone.locator("li.tw-story h3").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(phone.locator("input[name=q]")).to_be_visible()
    phone.screenshot(path=tmp_path / "front-390.png", full_page=True)
    for path in ("/-/topicwatch/story/1", "/corpus/articles", "/corpus/articles?_search=开源"):
        phone.goto(base_url + path)
        assert_no_sideways_scroll(phone)

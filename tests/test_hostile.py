"""The hostile-server suite (tests/hostile/): one real crawl, in a child process, over ~80
hostile cases served on 127.0.0.x: compression bombs, drips, endless streams and headers,
lying lengths and types, binary bodies, entity bombs, endless sitemap chains, documents
listing 100,000 links, redirect loops, links and redirects to private addresses in every
spelling, robots.txt traps.

The crawl must end (in any case within ten minutes: a hang detector, not a speed
measurement; benchmarks/hostile_crawl.py prints the figures), stay under 1 GB, end every case
as expected, and never send a request to the servers standing for the private network.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
from hostile.cases import LIMITS
from hostile.crawl import Result, expectations, run
from hostile.responses import BOMB_BYTES, bomb

pytestmark = pytest.mark.slow
EXPECTS = expectations()


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> Result:
    return run(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip"])
def test_the_bombs_expand_to_what_they_say(encoding):
    """The gzip and deflate bombs are assembled from one compressed chunk (hostile/responses.py):
    they must still be valid streams of BOMB_BYTES of HTML, checksums included."""
    body = bomb(encoding)
    if encoding == "gzip, gzip":
        body = gzip.decompress(body)
    stream = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib framing, checked to the end
    size, first, last = 0, b"", b""
    while body:
        piece = stream.decompress(body, 1 << 24)
        body = stream.unconsumed_tail
        first, last, size = first or piece[:16], (last + piece)[-32:], size + len(piece)
    assert stream.eof and not stream.unused_data
    assert size == BOMB_BYTES and first.startswith(b"<html><body><p>A") and last.endswith(b"A</p></body></html>")
    assert len(bomb(encoding)) < 300_000


def test_there_are_at_least_forty_cases():
    assert len({e.case for e in EXPECTS}) >= 40


def test_the_crawl_ends_cleanly_and_within_bounds(result):
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.seconds < 600
    assert 0 < result.peak_rss_mb < 1024
    assert 0 < result.tree_peak_pss_mb < 1024, "the crawl and its workers together"


@pytest.mark.parametrize("expect", EXPECTS, ids=[e.id for e in EXPECTS])
def test_every_case_ends_as_expected(result, expect):
    found = result.outcomes(expect)
    assert expect.outcome in found, f"{expect.case}: expected {expect.outcome}, found {sorted(found)}"


def test_no_request_reached_a_private_address(result):
    assert result.forbidden_hits() == []


def test_an_endless_chain_of_sitemap_indexes_stops_at_the_depth_limit(result):
    chain = [h for h in result.site.hits("main") if h.path.startswith("/s/chain/")]
    assert len(chain) == LIMITS["max_sitemap_depth"]


def test_documents_listing_too_much_cost_at_most_their_limits(result):
    gone = [h.path for h in result.site.hits("main") if h.path.startswith(("/gone/", "/g/"))]
    per_doc = LIMITS["max_entries_per_document"]
    assert len([p for p in gone if p.startswith("/gone/u")]) <= per_doc  # sitemap of 100k URLs
    assert len([p for p in gone if p.startswith("/gone/m")]) <= LIMITS["max_sitemaps_per_source"]
    assert len([p for p in gone if p.startswith("/g/")]) <= per_doc  # listing of 100k links
    robots_maps = [h for h in result.site.hits("r1") if h.path.startswith("/gone/")]
    assert len(robots_maps) <= LIMITS["max_sitemaps_per_source"]
    assert len(result.site.hits()) < 1000


def test_no_host_asking_for_a_day_between_requests_holds_the_crawl(result):
    assert [h.path for h in result.site.hits("r4")] == ["/robots.txt"]  # Scrapy's own fetch only

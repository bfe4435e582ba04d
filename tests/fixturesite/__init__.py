"""The fixture news site: three invented hosts (a Simplified Chinese portal, a Traditional
Chinese site, an English tech site), served over real HTTP on 127.0.0.1/.2/.3 for end-to-end
crawls.  Every page and text here was written for these tests.

- `server`: `FixtureSite`, the threaded HTTP server with a request log (`site.requests`).
- `build`: renders the pages, feeds and sitemaps; `manifest`: what a correct crawl stores.
- `model`, `layouts_zh`, `layouts_en`, `articles_a/b/c`, `feeds`: the site's content.

    from fixturesite import FixtureSite, manifest
    with FixtureSite() as site: ...
"""

from . import build, manifest, model
from .model import HOST_IPS, ArticleSpec, FeedItem, Resource
from .server import FixtureSite, RequestRecord, etag_of, shipped_topics

__all__ = ["HOST_IPS", "ArticleSpec", "FeedItem", "FixtureSite", "RequestRecord", "Resource",
           "build", "etag_of", "manifest", "model", "shipped_topics"]

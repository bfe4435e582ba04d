"""Text, URLs, dates and charsets: pure functions every stage shares, one of each.

- `normalise`: script/width/case folding (OpenCC), pinyin removal, script detection.
- `dates`: the one date parser for pages, feeds and sitemaps; the age limit.
- `urls`: canonical URLs (tracking parameters removed), `site_of`, link resolution.
- `charset`: bytes -> text the way a browser would, robust to lying charsets.
- `html`: parsing decoded HTML with lxml, never raising on what the web serves.
"""

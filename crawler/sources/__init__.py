"""Sources: feed, sitemap, listing-page and search-feed bytes -> `Entry` links to articles.

Plain functions over bytes and text; the Scrapy spider fetches and calls them.  Nothing here
touches the network: robots.txt, sitemaps and feeds arrive as bytes the spider already has.

- `feeds.parse_feed`: RSS 0.9x/1.0/2.0 and Atom (feedparser), links resolved, dates as ISO 8601.
- `sitemaps.parse_sitemap`: sitemap index -> child sitemaps; urlset (plain or Google News)
  -> entries; `sitemaps.robots_sitemaps`: discovery through robots.txt.
- `listings.listing_links`: article-looking links on a home or section page.
- `news_search.expand_search`: search-feed URLs from topic terms.
- `rules.LinkRules`: a source's allow / deny patterns.
- `read.read_document`: one fetched feed, sitemap or listing page -> what it lists (the step
  the crawl runs in a worker process).
"""

"""Extract: one fetched page -> the main text and metadata of an article, or NotAnArticle.

- `core`: `extract(page)`: trafilatura around the steps below, refusals, the title.
- `htmlprep`: layout tables, page-wide forms and loose `<br>` text made into paragraphs.
- `junklines`: disclaimers, ICP and copyright lines, tool lines, related-link lists dropped.
- `bylines`: dates, authors and credited outlets from markup and the byline under the headline.
"""

from crawler.errors import NotAnArticle
from crawler.extract.core import extract

__all__ = ["NotAnArticle", "extract"]

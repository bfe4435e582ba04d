"""Browsing the corpus with Datasette: the plugin (`plugin.py`), its metadata (`metadata.yml`),
`serve()` (`serve.py`), the article page (`article.py`) and the Atom feeds (`atom.py`).

The views the canned queries read (`source_health`) are created with the schema by
`crawler.store.ensure_db_shape` (see `crawler/health.py`).
"""

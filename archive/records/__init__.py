"""The records: the archive's truth on disk, and the caches derived from it.

Owns the records store (folder layout, crash-safe publish, sidecars, journal, moves between
dossiers), the catalog (SQLite) and its rebuild (``reindex``), fixity (``verify``), the
household roster, and keeping the search index in step with the catalog.

May import: ``archive.core`` and ``indexers`` (the search index).
"""

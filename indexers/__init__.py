"""From file to text to index: text layers, OCR, page quality, searchable PDFs, and the
Chinese full-text index (tantivy behind :class:`indexers.search.SearchIndex`).

May import: ``archive.core`` only.
"""

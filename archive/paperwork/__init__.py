"""Paperwork: the documents the campaign demands, laid out per GB/T 9704-2012.

Owns the official-document model, its DOCX and PDF renderers (and their templates under
``templates/``), OOXML helpers, the audit's Excel list, and the reports (summary,
rectification, monthly self-check).

May import: ``archive.core``, ``indexers``, ``archive.records``, ``archive.intake`` and
``archive.assess``.
"""

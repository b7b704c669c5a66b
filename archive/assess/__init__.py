"""Assessment: the archive judged against the bureau's scoring standard.

Owns the standard and its import from Word/Excel, dossier checklists, the bureau's metrics
and inspection findings, evidence inference, the audit's findings, the score and the
figures reports quote.

May import: ``archive.core``, ``indexers``, ``archive.records`` and ``archive.intake``.
"""

"""Intake: from a file dropped in the inbox to a record filed in its dossier.

Owns preflight (what a file is, whether it may be filed), file stability and the watcher,
keys from paths, classification (rules, roster matching), the intake pipeline that
publishes into the records, and refiling the tray.

May import: ``archive.core``, ``indexers`` and ``archive.records``.
"""

"""Shared ground: what every stage uses and nothing in particular owns.

Owns the error family (``errors``), the archive's settings and locks (``config``), key
vocabulary and normalisation (``keys``: licence numbers, case numbers, dates), document
types (``doctypes``), the clock, a document's keys (``dockeys``), safe file names
(``names``), reporting periods (``periods``) and YAML with line numbers (``yaml_lines``).

May import: the standard library and third-party packages only, never another stage.
"""

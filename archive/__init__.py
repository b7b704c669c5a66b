"""dangan's library: the domain, one package per stage of the data flow.

Stages, earliest first (a stage may import the stages before it, never a later one;
``tests/test_layers.py`` holds the order and checks it):

``core`` (shared ground) → ``indexers`` (top-level: text, OCR, search index) → ``records``
→ ``intake`` → ``assess`` → ``paperwork`` → ``packet`` → ``ops``; the doors ``cli/`` and
``web/`` sit on top. See ``docs/architecture.md``.
"""

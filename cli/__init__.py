"""The ``dangan`` command line: thin click commands over the library.

May import: every stage of ``archive`` and ``indexers``; never ``web``.
"""

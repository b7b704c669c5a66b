"""The web door: one server on the bureau's own machine that everyone reaches with a browser.

Thin, like ``cli/``: routes (``routes``), views that check permission on their first line,
call the library and render a template, the sessions and CSRF tokens of signed-in browsers
(``sessions``, ``security``), one error handler (``errors``), templates and static assets
shipped as package data (``render``). ``dangan serve`` (``serve_cmd``) runs it under uvicorn.

May import: every stage of ``archive`` and ``indexers``; never ``cli``.
"""

"""Who may use the archive, and what they did: users, roles and the access log (利用登记).

Owns the users (names, roles, argon2 password hashes, lockout counters), the role table with
:func:`roles.ensure_permission`, and the append-only, hash-chained access log with its
filters. Kept in ``<archive>/access/access.sqlite``: beside the records, outside ``.dangan/``
(which is derived and rebuilt by ``reindex``), because users and the log are not derived.

May import: ``archive.core`` only.
"""

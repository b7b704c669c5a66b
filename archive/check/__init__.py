"""四性检测 (DA/T 70-2018): the archive and the packets checked as an archive is checked —
真实性, 完整性, 可用性, 安全性, item by item with the standard's numbers and a verdict each.

May import: every earlier stage (``core``, ``indexers``, ``records``, ``intake``, ``assess``,
``paperwork``, ``packet``).
"""

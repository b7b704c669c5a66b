"""The acceptance-evidence packet: the archive's proof, in the standard's order.

Owns the packet plan, its front matter, the merged PDF (streamed in batches), the BagIt
writer and the verifier of packets (ours or returned from elsewhere).

May import: every earlier stage (``core``, ``indexers``, ``records``, ``intake``,
``assess``, ``paperwork``).
"""

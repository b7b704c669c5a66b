"""Running an archive: the status overview, the service units that keep it going, and the
second copy (backup, restore, the drill).

May import: every earlier stage.
"""

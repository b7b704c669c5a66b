"""Running an archive: the status overview and the service units that keep it going.

May import: every earlier stage.
"""

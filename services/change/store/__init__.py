"""Change's only SQL: managed changes (changes.py) and the changes tools report (unmanaged.py)."""

from services.change.store.changes import *  # noqa: F403
from services.change.store.changes import __all__ as _changes
from services.change.store.unmanaged import add_unmanaged_link, record_unmanaged, unmanaged_in, unmanaged_suspects

__all__ = [*_changes, "add_unmanaged_link", "record_unmanaged", "unmanaged_in", "unmanaged_suspects"]

"""Change's only SQL: managed changes (changes.py), their incident links (links.py) and window edges
(windows.py), and the changes tools report (unmanaged.py); typed rows beyond the domain's in rows.py."""

from services.change.store.changes import (
    add_timeline,
    add_vote,
    allocate_number,
    booked_overlapping,
    calendar,
    get_change,
    insert_change,
    list_changes,
    lock_schedule,
    save_change,
    timeline,
)
from services.change.store.links import add_link, clear_link, links, suspects
from services.change.store.unmanaged import (
    add_unmanaged_link,
    incidents_after,
    lock_cis,
    record_unmanaged,
    remember_incidents,
    unmanaged_suspects,
)
from services.change.store.windows import book_window, claim_due_edges, drop_window, mark_fired, window_edges

__all__ = [
    "add_link",
    "add_timeline",
    "add_unmanaged_link",
    "add_vote",
    "allocate_number",
    "book_window",
    "booked_overlapping",
    "calendar",
    "claim_due_edges",
    "clear_link",
    "drop_window",
    "get_change",
    "incidents_after",
    "insert_change",
    "links",
    "list_changes",
    "lock_cis",
    "lock_schedule",
    "mark_fired",
    "record_unmanaged",
    "remember_incidents",
    "save_change",
    "suspects",
    "timeline",
    "unmanaged_suspects",
    "window_edges",
]

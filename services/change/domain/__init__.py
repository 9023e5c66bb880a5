"""Change's pure rules, no I/O: the change request and its lifecycle per type (changes.py), who approves and
when votes decide (approvals.py), freezes, maintenance windows and conflicts (schedule.py), the moves that
record more than a state (workflow.py), and the changes tools report (unmanaged.py)."""

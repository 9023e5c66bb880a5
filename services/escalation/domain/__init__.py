"""Escalation's pure rules and domain types, no I/O: `clock` (SlaClock: deadlines, warnings, pauses in coverage
time), `run` (EscalationRun: the escalation policy's steps and tiers), `notifications` (who is told what, and
the retry schedule)."""

"""Triage's pure rules: the incident and its lifecycle, priority, grouping alerts into incidents, routing,
suppression, the people's actions and the copy of escalation's SLA clocks. No I/O, no HTTP, no SQL.

incident.py (the Incident, its one factory, the ITIL matrix, the lifecycle, IncidentRefused), actions.py
(what people do to an incident), grouping.py (alerts -> incidents), rules.py (category, routing, windows),
sla.py (escalation's clock news folded into the incident), fallback.py (a dead-lettered alert's incident).
"""

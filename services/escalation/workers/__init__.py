"""Escalation's workers (libs.workers.Worker), each claiming what fell due with SKIP LOCKED so replicas share
the work: `deadlines` (SLA warnings and breaches), `steps` (escalation policy steps that ran out), `sender`
(notifications to send)."""

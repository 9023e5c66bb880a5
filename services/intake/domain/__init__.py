"""Intake's pure rules, no I/O: what each monitoring tool's body says, as one normalised alert.

- `alert`: the `Signal` every format is read into, the alert's identity (a retry is one event), the
  AlertReceived payload;
- `generic`, `alertmanager` (and Grafana), `pagerduty`: each format's body schema and its mapping to signals;
- `signals`: heartbeats (and backup runs), restore tests and control results, checked against the tenant's config.
"""

"""A report as CSV: its nested figures flattened to (dotted.name, value) rows, what a spreadsheet takes."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures as (dotted.name, value) rows: what a spreadsheet takes."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in flatten(v, f"{prefix}.{i}")]
    return [(prefix, value)]


def to_csv(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "value"])
    for name, value in flatten(body):
        writer.writerow([name, value.isoformat() if isinstance(value, datetime) else "" if value is None else value])
    return out.getvalue()

"""The pieces every page of the printable report is made of: a cell, a table, a section, a figure in words."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from services.reporting.api.charts import pct
from services.reporting.domain.explain import human

WORDS = {"mttr": "mean time to resolve", "mtta": "mean time to acknowledge", "mttd": "mean time to detect"}


def cell(v: Any) -> str:
    if isinstance(v, datetime):
        return escape(v.strftime("%Y-%m-%d %H:%M UTC"))
    return escape("-" if v is None else str(v))


def table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="sub">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, body: str) -> str:
    return f"<h2>{escape(title)}</h2>{body}"


def figure(name: str, value: Any) -> str:
    """`mttr_seconds: 9000.0` as `mean time to resolve 2 h 30 min`: words, durations humanised, percentages."""
    label = name.removesuffix("_seconds").removesuffix("_pct").replace("_", " ")
    label = WORDS.get(label, label)
    if name.endswith("_seconds"):
        return f"{label} {human(value)}"
    return f"{label} {pct(value)}" if name.endswith("_pct") else f"{label} {value}"

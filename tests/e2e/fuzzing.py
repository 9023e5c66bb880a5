"""Requests generated from an OpenAPI document (libs/openapi.py), and what "nothing changed" means for a stack:
every table's rows and every stream's last sequence, read once the stack has settled."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from libs.bus import Bus
from tests.intake.test_fuzz import change, compact, json_values, paths

# Path segments and query values no client should send: control bytes, invalid UTF-8, huge and negative numbers,
# traversal, very long, quotes and wildcards, look-alike ids. Already percent-encoded.
HOSTILE = [
    "%00", "%01", "%1b%5b31m", "%ff", "%c0%af", "%ed%a0%80", "%e2%80%ae", "..", "%2e%2e", "%2f", "%5c", "%25",
    "-1", "0", "9" * 40, "1e309", "NaN", "null", "true", "%27%20OR%201%3D1--", "%2A", "%25%25", "a" * 3000,
    "ACME-99999999999999999999", "ACME-0", "ACME--1", "ACME-CHG-999999999999", "%F0%9F%92%A9", "%20", "x.html",
    "2026-13.html", "9999-01.html", "0000-00.html",
]  # fmt: skip
HUGE = [10**30, -(2**63) - 1, 2**64, 1e308, -1e308, 0.1, "9" * 400]
text = st.text(min_size=1, max_size=24).map(lambda s: quote(s, safe=""))


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # percent-encoded
    query: str  # percent-encoded, without '?'
    body: bytes | None
    content_type: str | None
    who: str | None  # a credential's name (the caller maps it to headers)

    def url(self, base: str) -> str:
        return base + self.path + (f"?{self.query}" if self.query else "")

    def __repr__(self) -> str:
        return f"{self.method} {self.path}?{self.query} as {self.who} body={(self.body or b'')[:300]!r}"


def deep(levels: int) -> Any:
    node: Any = "x"
    for _ in range(levels):
        node = {"a": node}
    return node


hostile_json = st.sampled_from([deep(40), [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], *HUGE])


@st.composite
def json_body(draw: st.DrawFn, generated: st.SearchStrategy[Any]) -> bytes:
    """From the schema (valid), then perhaps broken: a field dropped or retyped (to a huge number, deep nesting,
    arbitrary JSON), or arbitrary JSON, bytes, JSON cut short, or no body."""
    how = draw(st.sampled_from(["valid", "valid", "drop", "retype", "hostile", "arbitrary", "bytes", "cut", "none"]))
    body = draw(generated)
    if how in ("drop", "retype", "hostile") and (where := paths(body)):
        value = draw(hostile_json if how == "hostile" else json_values)
        body = change(body, draw(st.sampled_from(where)), value, drop=how == "drop")
    elif how == "arbitrary":
        body = draw(json_values | hostile_json)
    elif how == "bytes":
        return draw(st.binary(max_size=64))
    elif how == "none":
        return b""
    raw = json.dumps(body).encode()
    return raw[: draw(st.integers(0, max(0, len(raw) - 1)))] if how == "cut" else raw


def _schema(op: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return compact({**content["application/json"]["schema"], "components": components})
    return None


def calls(method: str, template: str, op: dict[str, Any], components: dict[str, Any], known: dict[str, list[str]],
          who: list[str | None]) -> st.SearchStrategy[Call]:  # fmt: skip
    """Requests for one operation: path parameters from the ids that exist (`known`, by parameter name) or
    hostile ones, declared query parameters (and an unknown one) with allowed, known or hostile values, a body
    from its schema or its form fields, and one of the credentials `who`."""
    params = op.get("parameters", [])
    segments = {p["name"]: st.sampled_from(known.get(p["name"], []) + HOSTILE) | text for p in params
                if p["in"] == "path"}  # fmt: skip
    queries = {p["name"]: p["schema"].get("enum", []) for p in params if p["in"] == "query"}

    def value(name: str) -> st.SearchStrategy[str]:
        fine = [quote(v, safe="") for v in [*queries.get(name, []), *known.get(name, [])]]
        return (st.sampled_from(fine) if fine else text) | st.sampled_from(HOSTILE) | text

    query = st.lists(st.sampled_from([*queries, "tennant"]), max_size=3, unique=True).flatmap(
        lambda names: st.tuples(*(st.tuples(st.just(n), value(n)) for n in names))
    ).map(lambda pairs: "&".join(f"{n}={v}" for n, v in pairs))  # fmt: skip
    schema = _schema(op, components)
    form = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    if schema is not None:
        body = json_body(from_schema(schema)).map(lambda b: (b or None, "application/json"))
    elif form is not None:
        fields = list(form["schema"]["properties"])
        body = st.dictionaries(
            st.sampled_from(fields),
            st.text(max_size=30) | st.sampled_from([v for vs in known.values() for v in vs]),
            max_size=5,
        ).map(lambda d: (urlencode(d).encode(), "application/x-www-form-urlencoded"))
    else:
        body = st.sampled_from([(None, None), (b'{"a": 1}', "application/json"), (b"\x00\xff", "text/plain")])

    @st.composite
    def one(draw: st.DrawFn) -> Call:
        path = template
        for name, strategy in segments.items():
            path = path.replace(f"{{{name}}}", draw(strategy))
        raw, ctype = draw(body)
        return Call(method, path, draw(query), raw, ctype, draw(st.sampled_from(who)))

    return one()


class Snapshots:
    """What the stack holds: each table's rows (a digest) and each stream's last sequence; `settle` waits until
    everything committed is published and every consumer has handled it."""

    def __init__(self, conn: asyncpg.Connection, bus: Bus) -> None:
        self.conn, self.bus = conn, bus
        self.query = ""

    async def prepare(self) -> None:
        tables = await self.conn.fetch(
            "SELECT table_schema s, table_name t FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        )
        self.query = " UNION ALL ".join(
            f"SELECT '{r['s']}.{r['t']}' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d "
            f'FROM "{r["s"]}"."{r["t"]}" x'
            for r in tables
        )

    async def take(self) -> dict[str, str]:
        rows = {r["t"]: r["d"] for r in await self.conn.fetch(self.query)}
        for stream in (self.bus.stream, self.bus.dead_letter_stream):
            rows[f"stream {stream}"] = str((await self.bus.js.stream_info(stream)).state.last_seq)
        return rows

    async def _idle(self) -> bool:
        outboxes = [t for t in self.query.split("'") if t.endswith(".outbox")]
        for table in outboxes:
            schema, _, name = table.partition(".")
            if await self.conn.fetchval(f'SELECT count(*) FROM "{schema}"."{name}"'):
                return False
        for stream in (self.bus.stream, self.bus.dead_letter_stream):
            for info in await self.bus.js.consumers_info(stream):
                if info.num_pending or info.num_ack_pending:
                    return False
        return True

    async def settle(self, wait_s: float = 15.0) -> None:
        deadline = asyncio.get_running_loop().time() + wait_s
        calm = 0
        while calm < 2:  # twice in a row: a consumer's own events have been handled too
            calm = calm + 1 if await self._idle() else 0
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the stack did not settle")
            await asyncio.sleep(0.03)


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))

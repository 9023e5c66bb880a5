"""Helpers for the tests that read the known month through the running reporting service."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.conftest import auth

OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


async def get(http, url, token="admin-token", **params):
    async with http.get(url, params=params, headers=auth(token)) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


def overview_rows(page: str) -> list[list[str]]:
    """The text of each body row's cells, read with the standard library's HTML parser."""

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.in_body = self.in_cell = False

        def handle_starttag(self, tag, attrs):
            self.in_body |= tag == "tbody"
            if self.in_body and tag == "tr":
                self.rows.append([])
            if self.in_body and tag == "td":
                self.in_cell = True
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            self.in_cell = self.in_cell and tag != "td"

        def handle_data(self, data):
            if self.in_cell:
                self.rows[-1][-1] += data

    parser = Rows()
    parser.feed(page)
    return parser.rows

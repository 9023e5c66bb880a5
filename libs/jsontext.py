"""JSON text for jsonb parameters and stored JSON, through orjson (several times faster than the json module
on the hot paths: each ledger row, each clock's coverage, each batch statement's jsonb columns). Reading
stays with the json module: orjson turns an integer beyond 64 bits into a float, silently.

`dumps` falls back to the json module for what orjson refuses (integers beyond 64 bits, a `default` that
returns a type it cannot encode either), so it accepts whatever `json.dumps` did. It writes no spaces, and
NaN or infinity as null (which jsonb accepts; json's `NaN` it refuses).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None, sort_keys: bool = False) -> str:
    option = OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, default=default, option=option).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, default=default, sort_keys=sort_keys)

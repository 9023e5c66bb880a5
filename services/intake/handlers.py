"""Intake consumes nothing: it is where events begin (HTTP from monitoring tools, see api/). Its subscriber
table is empty, so the service starts no consumer; the table is here so that every service has the same rooms."""

from __future__ import annotations

from libs.config import TierlineConfig
from libs.subscriptions import Subscriptions

SUBSCRIPTIONS: Subscriptions[TierlineConfig] = {}

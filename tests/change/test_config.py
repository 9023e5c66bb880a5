"""The change keys of tierline.yaml: boards, templates, freezes and maintenance windows are cross-checked."""

from __future__ import annotations

import copy
from datetime import time, timedelta

import pytest
import yaml
from pydantic import ValidationError

from libs.config import TierlineConfig, load_config
from tests.conftest import TEST_CONFIG

RAW = yaml.safe_load(TEST_CONFIG.read_text())


def acme_with(**changes: object) -> dict:
    data = copy.deepcopy(RAW)
    acme = data["tenants"][0]
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = acme
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return data


def error_of(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    return str(info.value)


def test_the_test_config_reads_as_the_change_tests_expect():
    acme = load_config(TEST_CONFIG).tenant("acme")
    assert acme and acme.changes.incident_link_window == timedelta(hours=1)
    assert acme.changes.template_index["wifi-firmware"].max_duration == timedelta(hours=2)
    [window] = acme.ci_index["core-router"].maintenance_windows
    assert (window.days, window.start, window.end) == (["sat", "sun"], time(1), time(5))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cab__rules": [{"risk": "high", "quorum": 4}]}, "cab.rules.0: quorum 4 exceeds its 3 members"),
        ({"cab__rules": [{"members": ["dave"], "quorum": 1}]}, "CAB members without an API token: dave"),
        ({"cab__delegates": ["dave"]}, "CAB delegates without an API token: dave"),
        ({"cab__rules": [{"quorum": 1, "delegates": ["dave"]}]}, "CAB delegates without an API token: dave"),
        ({"changes__templates": [{"id": "t", "title": "T", "cis": ["nas"]}]}, "names unknown services: nas"),
        (
            {"changes__templates": [{"id": "t", "title": "T", "cis": ["erp-db"]}] * 2},
            "change template ids must be unique",
        ),
        (
            {"changes__freezes": [{"name": "x", "start": "2030-12-20T00:00:00", "end": "2031-01-01T00:00:00Z"}]},
            "need a UTC offset",
        ),
        (
            {"changes__freezes": [{"name": "x", "start": "2031-01-01T00:00:00Z", "end": "2030-12-20T00:00:00Z"}]},
            "freeze start must be before end",
        ),
        ({"changes__incident_link_window": "soon"}, "not a duration"),
    ],
)
def test_bad_change_settings_are_refused_with_a_clear_message(changes, message):
    assert message in error_of(acme_with(**changes))


def test_maintenance_window_time_zone_is_checked():
    data = copy.deepcopy(RAW)
    data["tenants"][0]["services"][0]["maintenance_windows"] = [{"start": "01:00", "end": "02:00", "timezone": "Mars"}]
    assert "unknown time zone 'Mars'" in error_of(data)

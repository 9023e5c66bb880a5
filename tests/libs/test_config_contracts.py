"""Contracts over time: a tenant's `contract` as a list of versions, each from its `effective_from` in its coverage
time zone; the version in force at an instant, and the spans of a period (docs/configuration.md)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import yaml
from pydantic import ValidationError

from libs.cli import config_check
from libs.config import TierlineConfig
from tests.conftest import TEST_CONFIG

RAW = yaml.safe_load(TEST_CONFIG.read_text())


def with_versions(*changes: dict, tenant: int = 0) -> dict:
    """The test config with tenant `tenant`'s contract turned into versions: its own terms, then each of `changes`
    laid over them."""
    data = copy.deepcopy(RAW)
    base = data["tenants"][tenant]["contract"]
    data["tenants"][tenant]["contract"] = [base] + [{**copy.deepcopy(base), **c} for c in changes]
    return data


def errors(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors(include_url=False)]


def test_one_mapping_is_one_version_in_force_always():
    acme = TierlineConfig.model_validate(copy.deepcopy(RAW)).tenant("acme")
    assert acme is not None and len(acme.contract_versions) == 1
    assert acme.contract_at(datetime(1999, 1, 1, tzinfo=UTC)).tier == "premium"
    [span] = acme.contracts_between(datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC))
    assert (span.start, span.end, span.number) == (
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
        1,
    )


def test_a_date_takes_effect_at_midnight_in_the_versions_coverage_zone():
    # Acme's coverage is Europe/London: 15 Nov 2025 00:00 GMT is 00:00 UTC; 1 Jul 2025 00:00 BST is 30 Jun 23:00 UTC.
    cfg = TierlineConfig.model_validate(
        with_versions(
            {"tier": "summer", "effective_from": "2025-07-01"}, {"tier": "gold", "effective_from": "2025-11-15"}
        )
    )
    acme = cfg.tenant("acme")
    assert acme is not None
    assert acme.contract_at(datetime(2025, 6, 30, 22, 59, 59, tzinfo=UTC)).tier == "premium"
    assert acme.contract_at(datetime(2025, 6, 30, 23, 0, tzinfo=UTC)).tier == "summer"
    assert acme.contract_at(datetime(2025, 11, 14, 23, 59, 59, tzinfo=UTC)).tier == "summer"
    assert acme.contract_at(datetime(2025, 11, 15, 0, 0, tzinfo=UTC)).tier == "gold"
    spans = acme.contracts_between(datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC))
    assert [(s.contract.tier, s.start.day, s.end.day, s.number) for s in spans] == [
        ("summer", 1, 15, 2),
        ("gold", 15, 1, 3),
    ]


def test_a_date_time_without_offset_is_wall_clock_time_and_one_with_an_offset_is_that_instant():
    # Globex's coverage is America/New_York (EST, UTC-5, in January).
    cfg = TierlineConfig.model_validate(
        with_versions(
            {"tier": "noon", "effective_from": "2026-01-10T12:00"},
            {"tier": "late", "effective_from": "2026-01-20T23:30:00+00:00"},
            tenant=1,
        )
    )
    globex = cfg.tenant("globex")
    assert globex is not None
    assert globex.contract_versions[1].starts_at == datetime(2026, 1, 10, 17, 0, tzinfo=UTC)
    assert globex.contract_at(datetime(2026, 1, 10, 16, 59, tzinfo=UTC)).tier == "standard"
    assert globex.contract_at(datetime(2026, 1, 20, 23, 29, tzinfo=UTC)).tier == "noon"
    assert globex.contract_at(datetime(2026, 1, 20, 23, 30, tzinfo=UTC)).tier == "late"


def test_a_dumped_config_with_versions_reads_back_the_same():
    cfg = TierlineConfig.model_validate(with_versions({"tier": "gold", "effective_from": "2025-11-15"}))
    again = TierlineConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg
    assert again.tenant("acme").contract_versions[1].effective_from.isoformat() == "2025-11-15"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "loc", "message"),
    [
        ([{"tier": "gold"}], ("tenants", 0, "contract", 1, "effective_from"), "every version after the first"),
        (
            [{"tier": "b", "effective_from": "2025-11-15"}, {"tier": "c", "effective_from": "2025-11-01"}],
            ("tenants", 0, "contract", 2, "effective_from"),
            "must be after the previous version's (2025-11-15T00:00:00+00:00)",
        ),
        (
            [{"tier": "b", "effective_from": "2025-11-15"}, {"tier": "c", "effective_from": "2025-11-15T00:00Z"}],
            ("tenants", 0, "contract", 2, "effective_from"),
            "must be after the previous version's",
        ),
        (
            [{"tier": "b", "effective_from": "15/11/2025"}],
            ("tenants", 0, "contract", 1, "effective_from"),
            "not an ISO",
        ),
        (
            [{"tier": "b", "effective_from": "2025-11-15", "sla": {}}],
            ("tenants", 0, "contract", 1, "sla"),
            "SLA targets",
        ),
    ],
    ids=["second-without-date", "out-of-order", "same-instant", "not-a-date", "bad-terms"],
)
def test_versions_out_of_order_or_incomplete_are_refused_at_their_path(changes, loc, message):
    [(where, msg)] = errors(with_versions(*changes))
    assert where == loc and message in msg


def test_an_empty_list_and_mixed_credit_currencies_are_refused():
    data = copy.deepcopy(RAW)
    data["tenants"][0]["contract"] = []
    [(where, msg)] = errors(data)
    assert where == ("tenants", 0, "contract") and "at least one" in msg
    eur = {"monthly_fee": 100, "currency": "EUR"}
    gbp = {"monthly_fee": 100, "currency": "GBP"}
    data = with_versions({"effective_from": "2025-11-15", "availability": {"credits": gbp}})
    data["tenants"][0]["contract"][0]["availability"] = {"credits": eur}
    [(where, msg)] = errors(data)
    assert where == ("tenants", 0, "contract") and "one currency" in msg


def test_a_later_version_naming_an_unknown_service_is_refused():
    data = with_versions({"effective_from": "2025-11-15", "availability": {"per_service": {"mainframe": 99.0}}})
    [(where, msg)] = errors(data)
    assert where == ("tenants", 0) and "contract.1.availability.per_service names unknown services: mainframe" in msg


def test_config_check_lists_a_version_error_with_its_path(tmp_path, capsys):
    path = tmp_path / "tierline.yaml"
    path.write_text(yaml.safe_dump(with_versions({"tier": "gold"})))
    assert config_check(path) == 1
    assert "tenants.0.contract.1.effective_from: every version after the first needs effective_from" in (
        capsys.readouterr().err
    )


def test_the_documented_example_is_valid_and_reads_as_documented():
    """docs/configuration.md's contract versions, as a tenant's contract: Standard until 14 Nov, Premium from 15."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc.split("## Contracts over time", 1)[1], re.S).group(1)  # type: ignore[union-attr]
    data = copy.deepcopy(RAW)
    data["tenants"][0]["contract"] = yaml.safe_load(block)["contract"]
    acme = TierlineConfig.model_validate(data).tenant("acme")
    assert acme is not None
    assert acme.contract_at(datetime(2025, 11, 14, 23, 59, tzinfo=UTC)).tier == "Standard"
    assert acme.contract_at(datetime(2025, 11, 15, 0, 0, tzinfo=UTC)).tier == "Premium"  # GMT in November

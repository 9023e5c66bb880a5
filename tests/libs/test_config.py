"""tierline.yaml validation, durations, and the `tierline config` commands."""

from __future__ import annotations

import copy
import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from libs.config import TierlineConfig, load_config, parse_duration
from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "tierline.yaml"
TIERLINE = ROOT / ".venv" / "bin" / "tierline"
RAW = yaml.safe_load(TEST_CONFIG.read_text())


def raw() -> dict:
    return copy.deepcopy(RAW)


def only_error(data: dict) -> tuple[tuple, str]:
    """Validate and return the single error's location and message."""
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    errors = info.value.errors(include_url=False)
    assert len(errors) == 1, errors
    return errors[0]["loc"], errors[0]["msg"]


@pytest.mark.parametrize("path", [DEMO_CONFIG, TEST_CONFIG], ids=["demo", "tests"])
def test_shipped_configs_validate(path):
    cfg = load_config(path)
    assert cfg.tenants and len(cfg.tenants_by_id) == len(cfg.tenants)


def test_test_config_reads_as_documented():
    cfg = load_config(TEST_CONFIG)
    acme = cfg.tenant("acme")
    assert acme is not None and cfg.tenant("nobody") is None
    assert acme.contract.sla["P1"].respond == timedelta(seconds=2)
    assert acme.contract.sla["P4"].resolve == timedelta(days=2)
    # Revoked keys do not authenticate; a key's hash is the SHA-256 of the documented secret.
    assert hashlib.sha256(b"acme-key").hexdigest() in cfg.integration_keys
    revoked = next(k for k in acme.integration_keys if k.revoked)
    assert revoked.key_sha256 not in cfg.integration_keys


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("4h", 14_400), ("1h30m", 5_400), ("1d", 86_400), ("2.5s", 2.5),
     ("1d2h3m4s", 93_784), (" 10m ", 600), (90, 90), (1.5, 1.5)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["5q", "", "  ", "h", "m30", "1.5h", "30 s", True, None, [1]])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)


def test_bad_duration_names_the_field():
    data = raw()
    data["tenants"][0]["contract"]["sla"]["P1"]["respond"] = "5q"
    loc, msg = only_error(data)
    assert loc == ("tenants", 0, "contract", "sla", "P1", "respond")
    assert "not a duration: '5q'" in msg


def test_missing_sla_priority():
    data = raw()
    del data["tenants"][1]["contract"]["sla"]["P3"]
    loc, msg = only_error(data)
    assert loc == ("tenants", 1, "contract", "sla")
    assert "SLA targets missing for P3" in msg


def test_unknown_time_zone():
    data = raw()
    data["tenants"][0]["contract"]["coverage"]["timezone"] = "Mars/Olympus_Mons"
    loc, msg = only_error(data)
    assert loc == ("tenants", 0, "contract", "coverage", "timezone")
    assert "unknown time zone 'Mars/Olympus_Mons'" in msg


def test_duplicate_tenant_id():
    data = raw()
    data["tenants"][1]["id"] = "acme"
    loc, msg = only_error(data)
    assert loc == ()
    assert "tenant ids must be unique: acme" in msg


def test_integration_key_bound_to_unknown_ci():
    data = raw()
    data["tenants"][0]["integration_keys"][1]["ci"] = "no-such-ci"
    loc, msg = only_error(data)
    assert loc == ("tenants", 0)
    assert "integration key 'db-monitor' names unknown service 'no-such-ci'" in msg


def test_cab_quorum_larger_than_members():
    data = raw()
    data["tenants"][1]["cab"]["quorum"] = 3
    loc, msg = only_error(data)
    assert loc == ("tenants", 1)
    assert "CAB quorum 3 exceeds its 2 members" in msg


def test_cab_member_without_a_token_could_never_vote():
    data = raw()
    data["tenants"][0]["cab"]["members"] = ["alice", "dave"]
    loc, msg = only_error(data)
    assert loc == ()
    assert "tenant acme: CAB members without an API token: dave" in msg


def test_token_user_name_in_two_tenants():
    data = raw()
    data["tenants"][1]["api_tokens"][0]["user"] = "acme-viewer"
    loc, msg = only_error(data)
    assert loc == ()
    assert "token user names must be unique across provider and tenants: acme-viewer" in msg


def test_token_user_name_shared_by_provider_and_tenant():
    data = raw()
    data["tenants"][0]["api_tokens"][0]["user"] = "alice"
    _, msg = only_error(data)
    assert "token user names must be unique across provider and tenants: alice" in msg


def test_unknown_field_is_rejected():
    data = raw()
    data["tenants"][0]["contract"]["tierr"] = "gold"
    loc, msg = only_error(data)
    assert loc == ("tenants", 0, "contract", "tierr")
    assert "Extra inputs are not permitted" in msg


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TIERLINE), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_config_check_good_file():
    result = run_cli("config", "check", str(TEST_CONFIG))
    assert result.returncode == 0, result.stderr
    assert "OK (2 tenants, 4 services, 8 integration keys)" in result.stdout
    # Valid, yet the high-risk network board (alice, bob, carol; quorum 3) cannot approve a change one of its
    # own members raised: warned about, still exit 0.
    assert result.stdout.splitlines()[1:] == [
        "warning: tenant acme: cab.rules.0 (network, high risk; members alice, bob, carol): quorum 3 cannot be met"
        " when alice raises a change (2 eligible voters); add delegates to cab.rules.0 in tierline.yaml"
    ]


def test_cli_config_check_is_quiet_when_delegates_make_up_the_difference(tmp_path):
    data = raw()
    data["tenants"][0]["cab"]["rules"][0]["delegates"] = ["eve"]
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(data))
    result = run_cli("config", "check", str(good))
    assert result.returncode == 0 and "warning" not in result.stdout, result.stdout


def test_the_demo_config_checks_without_warnings():
    result = run_cli("config", "check", str(ROOT / "tierline.yaml"))
    assert result.returncode == 0 and result.stdout.count("\n") == 1, result.stdout


def test_cli_config_check_bad_file(tmp_path):
    data = raw()
    data["tenants"][0]["contract"]["sla"]["P2"]["resolve"] = "5q"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 1
    assert "1 error(s)" in result.stderr
    assert "tenants.0.contract.sla.P2.resolve: not a duration: '5q'" in result.stderr


def test_cli_config_check_invalid_yaml(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("tenants: [\n")
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 1
    assert "not valid YAML" in result.stderr


def test_cli_config_hash():
    result = run_cli("config", "hash", "x")
    assert result.returncode == 0
    assert result.stdout.strip() == hashlib.sha256(b"x").hexdigest()

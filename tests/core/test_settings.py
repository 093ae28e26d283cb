"""Settings and secret files: production refuses what is only safe on a local dev chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX, consortium_secret, record_key
from tests.cli.test_cli_ops import one_line_error, run_cli


def test_environment_must_be_development_or_production() -> None:
    with pytest.raises(ConfigError, match="CREDITSHARE_ENVIRONMENT"):
        Settings.from_env({"CREDITSHARE_ENVIRONMENT": "prod"})
    assert Settings.from_env({"CREDITSHARE_ENVIRONMENT": "production"}).production


@pytest.mark.parametrize("secret_hex", ["00" * 32, DEV_CONSORTIUM_SECRET_HEX])
def test_production_refuses_placeholder_and_dev_secrets(tmp_path: Path, secret_hex: str) -> None:
    path = tmp_path / "secret"
    path.write_text(secret_hex)
    dev = Settings.from_env({}, consortium_secret_file=path)
    assert consortium_secret(dev).key == bytes.fromhex(secret_hex)  # fine on a local chain
    prod = Settings.from_env({"CREDITSHARE_ENVIRONMENT": "production"}, consortium_secret_file=path)
    with pytest.raises(ConfigError, match="placeholder or dev secret"):
        consortium_secret(prod)
    with pytest.raises(ConfigError, match="placeholder or dev secret"):
        record_key(Settings.from_env({"CREDITSHARE_ENVIRONMENT": "production"}, record_key_file=path))


def test_deploy_dev_is_refused_in_production(tmp_path: Path) -> None:
    env = {"CREDITSHARE_HOME": str(tmp_path), "CREDITSHARE_ENVIRONMENT": "production", "PATH": "/usr/bin:/bin"}
    one_line_error(run_cli(env, "deploy", "--dev"), "refused in production")
    one_line_error(run_cli(env, "members", "propose", "pause", "--dev-account", "0", "--yes"), "refused", "production")


def test_node_profile_follows_the_engine_unless_named_and_each_setting_overrides_one_figure() -> None:
    assert Settings.from_env({}).node_profile.name == "ganache"
    assert Settings.from_env({"CREDITSHARE_CHAIN_ENGINE": "anvil"}).node_profile.name == "anvil"
    besu = Settings.from_env({"CREDITSHARE_CHAIN_ENGINE": "anvil", "CREDITSHARE_CHAIN_PROFILE": "besu-qbft"})
    profile = besu.node_profile
    assert (profile.name, profile.gas_price, profile.poa_headers, profile.block_time) == (
        "besu-qbft",
        "zero",
        True,
        2.0,
    )
    assert (profile.max_logs_range, profile.in_flight_per_sender, profile.max_logs_results) == (1000, 4, 10_000)
    assert besu.poll_interval == 0.5 and besu.stall_seconds == 30.0
    tuned = Settings.from_env(
        {
            "CREDITSHARE_CHAIN_PROFILE": "besu-qbft",
            "CREDITSHARE_INDEX_RANGE": "500",
            "CREDITSHARE_MAX_IN_FLIGHT": "2",
            "CREDITSHARE_GAS_PRICE_MODE": "node",
            "CREDITSHARE_POA_HEADERS": "false",
            "CREDITSHARE_BLOCK_TIME": "5",
            "CREDITSHARE_LOGS_MAX_RESULTS": "50",
            "CREDITSHARE_CHAIN_STALL_SECONDS": "7",
        }
    )
    p = tuned.node_profile
    assert (p.max_logs_range, p.in_flight_per_sender, p.gas_price, p.poa_headers, p.block_time) == (
        500, 2, "node", False, 5.0
    )  # fmt: skip
    assert p.max_logs_results == 50 and tuned.stall_seconds == 7.0 and tuned.poll_interval == 1.25


@pytest.mark.parametrize(
    ("name", "value"),
    [("CHAIN_PROFILE", "besu"), ("CHAIN_ENGINE", "hardhat"), ("MAX_IN_FLIGHT", "0"), ("GAS_PRICE_MODE", "free")],
)
def test_node_profile_settings_refuse_bad_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"CREDITSHARE_{name}"):
        Settings.from_env({f"CREDITSHARE_{name}": value})

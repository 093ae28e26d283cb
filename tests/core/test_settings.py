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

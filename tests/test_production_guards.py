"""The production profile (DEBUG off) refuses to start with a weak or placeholder key, without
FIELD_ENCRYPTION_KEY, or with the sandbox on (unless a test run says so). Each case imports the
settings in a fresh interpreter with only the given environment (``tests.test_settings.run``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.test_settings import ROOT, production_env, run

SETUP = ["-c", "import django; django.setup(); print('started')"]
PRINT = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "sandbox": "sandbox" in settings.INSTALLED_APPS,
    "field_keys": settings.FIELD_ENCRYPTION_KEY.count(",") + 1,
    "session_age": settings.SESSION_COOKIE_AGE,
    "axes_limit": settings.AXES_FAILURE_LIMIT,
}))
"""


def compose_default(name: str) -> str:
    """The fallback docker-compose.yml ships for ``${NAME:-fallback}``."""
    match = re.search(rf"\$\{{{name}:-([^}}]*)\}}", (ROOT / "docker-compose.yml").read_text())
    assert match, f"docker-compose.yml has no ${{{name}:-...}}"
    return match.group(1)


def refused(result: object) -> str:
    assert getattr(result, "returncode", 0) != 0, getattr(result, "stdout", "")
    stderr = str(getattr(result, "stderr", ""))
    assert "django.core.exceptions.ImproperlyConfigured" in stderr
    return stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_the_keys_docker_compose_ships_are_refused_by_the_production_profile(tmp_path: Path, name: str) -> None:
    # given docker compose started without a .env: the fallback value reaches the settings
    value = compose_default(name)
    # when / then
    stderr = refused(run(SETUP, production_env(**{name: value}), tmp_path))
    assert name in stderr
    assert "placeholder" in stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("x" * 49, "SECRET_KEY is too short"),
        ("please-change-me-" + "a" * 60, "SECRET_KEY is a placeholder"),
        ("dev-only-insecure-key-do-not-use-in-production-0123456789abcdef", "SECRET_KEY is a placeholder"),
    ],
)
def test_a_short_or_placeholder_secret_key_is_refused(tmp_path: Path, value: str, says: str) -> None:
    stderr = refused(run(SETUP, production_env(SECRET_KEY=value), tmp_path))
    assert says in stderr


def test_without_a_field_encryption_key_the_production_profile_refuses_to_start(tmp_path: Path) -> None:
    env = production_env()
    del env["FIELD_ENCRYPTION_KEY"]
    stderr = refused(run(SETUP, env, tmp_path))
    assert "FIELD_ENCRYPTION_KEY must be set when DEBUG is off" in stderr


def test_a_short_field_encryption_key_in_the_list_is_refused(tmp_path: Path) -> None:
    env = production_env(FIELD_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},short")
    stderr = refused(run(SETUP, env, tmp_path))
    assert "shorter than 32 characters" in stderr


def test_several_field_encryption_keys_newest_first_are_accepted(tmp_path: Path) -> None:
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"
    result = run(["-c", PRINT], production_env(FIELD_ENCRYPTION_KEY=keys), tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == {"sandbox": False, "field_keys": 2, "session_age": 8 * 60 * 60, "axes_limit": 5}


def test_the_sandbox_in_the_production_profile_refuses_to_start(tmp_path: Path) -> None:
    stderr = refused(run(SETUP, production_env(SANDBOX_ENABLED="1"), tmp_path))
    assert "SANDBOX_ENABLED is on in the production profile" in stderr
    assert "SANDBOX_IN_PRODUCTION_FOR_TESTS=1" in stderr


def test_loopback_calls_in_the_production_profile_refuse_to_start(tmp_path: Path) -> None:
    stderr = refused(run(SETUP, production_env(OUTBOUND_ALLOW_LOOPBACK="1"), tmp_path))
    assert "OUTBOUND_ALLOW_LOOPBACK is on in the production profile" in stderr


def test_loopback_calls_in_the_production_profile_start_with_the_test_only_override(tmp_path: Path) -> None:
    env = production_env(OUTBOUND_ALLOW_LOOPBACK="1", SANDBOX_IN_PRODUCTION_FOR_TESTS="1")
    result = run(SETUP, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_the_sandbox_in_the_production_profile_starts_with_the_test_only_override(tmp_path: Path) -> None:
    env = production_env(SANDBOX_ENABLED="1", SANDBOX_IN_PRODUCTION_FOR_TESTS="1")
    result = run(["-c", PRINT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["sandbox"] is True


def test_the_dev_profile_runs_the_sandbox_without_keys_or_override(tmp_path: Path) -> None:
    # make run: DEBUG=1, nothing else set
    result = run(["-c", PRINT], {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "zopi.settings"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["sandbox"] is True


def test_session_idle_and_sign_in_limits_come_from_the_environment(tmp_path: Path) -> None:
    env = production_env(SESSION_IDLE_MINUTES="30", SIGNIN_FAILURE_LIMIT="3")
    result = run(["-c", PRINT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert (printed["session_age"], printed["axes_limit"]) == (30 * 60, 3)

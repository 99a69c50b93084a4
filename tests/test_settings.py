"""Settings come from the environment only; each case runs in a fresh interpreter with a clean env."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run in a clean environment: only PATH and the given variables (no DATABASE_URL, REDIS_URL…)."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ZOPI_RUN_DIR": str(tmp_path / "run"), **env}
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def production_env(**overrides: str) -> dict[str, str]:
    """The production profile with real-looking keys; ``overrides`` change or add variables."""
    return {
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "zopi.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **overrides,
    }


def test_the_production_profile_passes_check_deploy(tmp_path: Path) -> None:
    # given the production profile
    env = {**production_env(), "ALLOWED_HOSTS": "example.com"}
    # when
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_secret_key_the_production_profile_refuses_to_start(tmp_path: Path) -> None:
    # when settings are imported with DEBUG off and no SECRET_KEY
    result = run(
        ["-c", "import django; django.setup()"], {"DEBUG": "0", "DJANGO_SETTINGS_MODULE": "zopi.settings"}, tmp_path
    )
    # then
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_the_default_profile_also_refuses_without_a_secret_key(tmp_path: Path) -> None:
    # DEBUG unset means off: a forgotten variable must not start an insecure server
    result = run(["-c", "import django; django.setup()"], {"DJANGO_SETTINGS_MODULE": "zopi.settings"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


PRINT_BACKENDS = """
import json, django
django.setup()
from django.conf import settings
from zopi.celery import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "celery_broker": app.conf.broker_url,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
}))
"""


def test_with_nothing_set_the_embedded_default_is_sqlite_and_the_filesystem_broker(tmp_path: Path) -> None:
    # when settings load with only DEBUG=1 (no DATABASE_URL, no REDIS_URL)
    result = run(["-c", PRINT_BACKENDS], {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "zopi.settings"}, tmp_path)
    # then
    assert result.returncode == 0, result.stderr
    backends = json.loads(result.stdout.strip().splitlines()[-1])
    assert backends["broker"].startswith("filesystem://")
    assert backends == {
        "engine": "django.db.backends.sqlite3",
        "name": str(tmp_path / "run" / "db.sqlite3"),
        "broker": backends["broker"],
        "celery_broker": backends["broker"],
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "debug": True,
    }
    assert (tmp_path / "run" / "broker" / "queue").is_dir()


def test_empty_service_urls_mean_unset(tmp_path: Path) -> None:
    # a .env file with blank DATABASE_URL= and REDIS_URL= lines is the embedded default, not a crash
    env = {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "zopi.settings", "DATABASE_URL": "", "REDIS_URL": ""}
    result = run(["-c", PRINT_BACKENDS], env, tmp_path)
    assert result.returncode == 0, result.stderr
    backends = json.loads(result.stdout.strip().splitlines()[-1])
    assert backends["engine"] == "django.db.backends.sqlite3"
    assert backends["broker"].startswith("filesystem://")


def test_database_url_and_redis_url_switch_to_postgresql_and_redis(tmp_path: Path) -> None:
    # when settings load with the service URLs (nothing is connected: settings only)
    env = {
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "zopi.settings",
        "DATABASE_URL": "postgres://zopi@db.internal:5432/zopi",
        "REDIS_URL": "redis://cache.internal:6379/0",
    }
    result = run(["-c", PRINT_BACKENDS], env, tmp_path)
    # then
    assert result.returncode == 0, result.stderr
    backends = json.loads(result.stdout.strip().splitlines()[-1])
    assert backends["engine"] == "django.db.backends.postgresql"
    assert backends["name"] == "zopi"
    assert backends["broker"] == backends["celery_broker"] == "redis://cache.internal:6379/0"
    assert backends["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_the_beat_task_is_routed_to_the_default_queue() -> None:
    from zopi.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    route = app.amqp.router.route({}, "orders.refresh_time_based_statuses")
    assert route["queue"].name == "default"
    assert "orders.refresh_time_based_statuses" in app.tasks
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1

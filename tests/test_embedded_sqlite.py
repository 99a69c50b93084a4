"""``make run``'s embedded SQLite takes its own paths where PostgreSQL has advisory locks and
interval arithmetic: ``tests/embedded/sqlite_paths.py`` runs them in a fresh interpreter with no
``DATABASE_URL`` and no ``REDIS_URL``, whatever database this suite runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_push_claim_and_the_daily_job_run_on_the_embedded_sqlite(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env["ZOPI_RUN_DIR"] = str(tmp_path / "run")
    result = subprocess.run(  # noqa: S603 - our own interpreter and test file
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/embedded/sqlite_paths.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout, result.stdout[-2000:]
    assert "skipped" not in result.stdout, result.stdout[-2000:]

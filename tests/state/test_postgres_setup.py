"""The PostgreSQL store's schema, credentials and connection loss, on real servers."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import psycopg
import pytest

from qengine import AuthError, InvalidInputError, TransientError
from qengine.interfaces.state import StepRecord, StepState
from qengine.runner.pgstore import SCHEMA_VERSION, PostgresStateStore, check_state_url
from qengine.testing.postgres import LocalPostgres, run_postgres

REPO = Path(__file__).resolve().parents[2]


def _tables(postgres: LocalPostgres, url: str) -> set[str]:
    with psycopg.connect(url, password=postgres.password) as db:
        rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {str(row[0]) for row in rows}


def test_stores_opening_together_create_the_schema_once(
    postgres: LocalPostgres, pg_url: str
) -> None:
    def open_one(_: int) -> int:
        store = PostgresStateStore(pg_url, password_file=postgres.password_file)
        try:
            return store.schema_version()
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        versions = list(pool.map(open_one, range(6)))
    assert versions == [SCHEMA_VERSION] * 6
    assert _tables(postgres, pg_url) == {
        "qengine_schema",
        "qengine_steps",
        "qengine_locks",
        "qengine_accepted_jobs",
        "qengine_finished_jobs",
    }
    with psycopg.connect(pg_url, password=postgres.password) as db:
        assert db.execute("SELECT count(*) FROM qengine_schema").fetchone() == (1,)


def test_a_database_of_a_newer_schema_is_refused(postgres: LocalPostgres, pg_url: str) -> None:
    PostgresStateStore(pg_url, password_file=postgres.password_file).close()
    with psycopg.connect(pg_url, password=postgres.password, autocommit=True) as db:
        db.execute("UPDATE qengine_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(InvalidInputError, match="newer than this qengine knows"):
        PostgresStateStore(pg_url, password_file=postgres.password_file)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://qengine:hunter2-secret@db:5432/qengine",
        "postgresql://qengine@db/qengine?sslmode=require&password=hunter2-secret",
        "postgres://:hunter2-secret@db/qengine",
    ],
    ids=["userinfo", "query", "no-user"],
)
def test_a_url_carrying_a_password_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_state_url(url)
    assert "hunter2" not in str(caught.value) + caught.value.hint
    assert "password" in str(caught.value)


def test_a_url_of_another_kind_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="postgresql://"):
        check_state_url("sqlite:///tmp/x.db")
    assert check_state_url("postgresql://u@h/d?sslmode=verify-full") == (
        "postgresql://u@h/d?sslmode=verify-full"
    )


def test_a_wrong_password_is_an_auth_error_that_does_not_show_it(
    postgres: LocalPostgres, pg_url: str, tmp_path: Path
) -> None:
    wrong = tmp_path / "pw"
    wrong.write_text("not-the-Password-42\n")
    with pytest.raises(AuthError) as caught:
        PostgresStateStore(pg_url, password_file=wrong)
    text = f"{caught.value} {caught.value.hint} {caught.value!r}"
    assert "not-the-Password-42" not in text
    assert postgres.password not in text
    assert caught.value.__cause__ is None  # psycopg's exception (and its conninfo) dropped


def test_libpq_finds_the_password_in_pgpassfile_of_the_process(
    postgres: LocalPostgres, pg_url: str, tmp_path: Path
) -> None:
    """No password_file: the worker's own PGPASSFILE (libpq's format) is used, in a child
    process so that this process's environment stays clean."""
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.port}:*:qengine:{postgres.password}\n")
    passfile.chmod(0o600)
    script = (
        "import sys\nfrom qengine.runner.pgstore import PostgresStateStore\n"
        "s = PostgresStateStore(sys.argv[1]); print(s.schema_version()); s.close()"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PGPASSFILE": str(passfile)}
    done = subprocess.run(
        [sys.executable, "-c", script, pg_url], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(SCHEMA_VERSION)


def test_a_restarted_server_is_picked_up_again() -> None:
    with run_postgres() as server:
        url = server.new_database()
        store = PostgresStateStore(url, password_file=server.password_file)
        record = StepRecord(job_id="j", step_id="a", idempotency_key="k", status=StepState.STARTED)
        store.record_step(record)
        server.stop("immediate")  # a crash: nothing flushed on the way down
        with pytest.raises(TransientError, match="unreachable"):
            store.record_step(record)
        with pytest.raises(TransientError):
            store.job_status("j")
        server.start()
        store.record_step(attrs.evolve(record, status=StepState.SUCCEEDED))
        assert [r.status for r in store.step_records("j")] == [StepState.SUCCEEDED]
        store.close()

"""The worker's settings from its environment, and the Deployment manifest that sets them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from qengine_celery import WorkerSettings

from qengine import InvalidInputError

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "workers.yaml"
BASE = {
    "QENGINE_CELERY_BROKER_URL": "redis://redis:6379/0",
    "QENGINE_STATE_URL": "postgresql://qengine@db/qengine",
}


def test_defaults_and_numbers_are_read() -> None:
    settings = WorkerSettings.from_environ({**BASE, "QENGINE_LOCK_WAIT": "2.5"})
    assert settings.result_backend == "redis://redis:6379/0"
    assert settings.lock_wait_seconds == 2.5
    assert settings.lease_seconds == 30.0
    assert settings.lock_max_retries is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QENGINE_STATE_URL", "postgresql://qengine:Pw-123-x@db/qengine"),
        ("QENGINE_CELERY_BROKER_URL", "redis://:Pw-123-x@redis:6379/0"),
        ("QENGINE_CELERY_RESULT_BACKEND", "redis://:Pw-123-x@redis:6379/1"),
    ],
)
def test_a_password_in_a_url_is_refused_without_repeating_it(name: str, value: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        WorkerSettings.from_environ({**BASE, name: value})
    assert "Pw-123-x" not in f"{caught.value} {caught.value.hint}"


def test_missing_settings_and_bad_numbers_are_named() -> None:
    with pytest.raises(InvalidInputError, match="QENGINE_STATE_URL"):
        WorkerSettings.from_environ({"QENGINE_CELERY_BROKER_URL": "redis://r/0"})
    with pytest.raises(InvalidInputError, match="QENGINE_STATE_LEASE"):
        WorkerSettings.from_environ({**BASE, "QENGINE_STATE_LEASE": "soon"})


def test_the_broker_password_comes_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("p@ss/w:rd\n")
    settings = WorkerSettings.from_environ(
        {**BASE, "QENGINE_CELERY_BROKER_PASSWORD_FILE": str(secret)}
    )
    assert settings.broker_url_with_password() == "redis://:p%40ss%2Fw%3Ard@redis:6379/0"
    assert "p@ss" not in repr(settings)


def test_the_manifest_is_a_valid_deployment_of_settings_the_worker_reads(tmp_path: Path) -> None:
    validate = shutil.which("kubernetes-validate")
    assert validate is not None
    done = subprocess.run(
        [validate, "-k", "1.31.0", str(MANIFEST)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    container = yaml.safe_load(MANIFEST.read_text())["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    settings = WorkerSettings.from_environ(env)
    assert settings.visibility_timeout_seconds > settings.lease_seconds
    assert settings.state_password_file == Path("/run/secrets/qengine/db-password")
    assert not any("PASSWORD" in name and not name.endswith("_FILE") for name in env)

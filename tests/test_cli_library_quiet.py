"""Library use is quiet: a sandbox session's stand-ins print no request log on standard error
unless the host configures logging."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("qengine_aws")
pytest.importorskip("moto")

SCRIPT = textwrap.dedent(
    """
    import logging, sys, urllib.error, urllib.request
    from qengine import SandboxSession
    from qengine_aws.sandbox_session import session_settings
    if sys.argv[1] == "configured":
        logging.basicConfig(level=logging.INFO, format="LOGGED %(message)s")
    with SandboxSession() as session:
        endpoint = session_settings(session).endpoint_url  # moto, as a sandbox AWS job starts it
        try:
            urllib.request.urlopen(endpoint + "/", timeout=60).read()
        except urllib.error.HTTPError:
            pass  # an answer, whatever it is, is a request served (and logged by werkzeug)
    print("served")
    """
)


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120
    )


def test_a_sandbox_session_prints_no_request_log() -> None:
    done = _run("plain")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"
    assert done.stderr == ""


def test_a_host_that_configures_logging_still_gets_the_records() -> None:
    done = _run("configured")
    assert done.returncode == 0, done.stderr
    assert "LOGGED 127.0.0.1 - - " in done.stderr
    assert '"GET / HTTP/1.1"' in done.stderr

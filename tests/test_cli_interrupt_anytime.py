"""Ctrl-C and SIGTERM are honoured at every moment of a command, validation of a large spec
included, and never end in a traceback (the interpreter still importing the command's modules
is one of those moments)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"
# Exit codes an interrupted command may end with: 3 (cancelled, "error: interrupted"), killed
# by the signal itself (before Python's handler exists, or SIGTERM's default action), or the
# command's own result when it finished before the signal landed.
HONOURED = {0, 3, -signal.SIGINT, -signal.SIGTERM}


def _large_spec(tmp_path: Path, services: int = 2000) -> Path:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    container = next(s for s in document["environment"]["services"] if s["kind"] == "container")
    chain = []
    for index in range(services):
        service = {**container, "name": f"svc-{index}"}
        service["depends_on"] = [f"svc-{index - 1}"] if index else []
        chain.append(service)
    document["environment"]["services"] = chain
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    return spec


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_of_validation_ends_it_without_a_traceback(
    tmp_path: Path, signum: signal.Signals
) -> None:
    spec = _large_spec(tmp_path)
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        child = subprocess.Popen(
            [sys.executable, "-m", "qengine", "validate", str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
        if "init_import_site" in err or "in _get_module_details" in err:
            # Python's own moments: the interpreter's start-up (site), and runpy importing the
            # package before `python -m` hands over; no code of the package can catch there.
            continue
        assert child.returncode in HONOURED, (delay, child.returncode, err[-2000:])
        assert "Traceback" not in err, (delay, err[-2000:])

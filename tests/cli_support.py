"""Running the real ``qengine`` command in a child process, with a private HOME (so a private
default state directory) and the variables it needs only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """PATH, HOME under ``tmp``, and ``extra``."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    for name in ("QENGINE_HELM", "PYTHONPATH"):  # a sandbox add-on stack's helm; the code
        if name in os.environ:  # under test when it is not the installed copy
            env[name] = os.environ[name]
    return env | extra


def qengine(
    tmp: Path, *args: str, stdin: str | None = None, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``python -m qengine ARGS`` to completion, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        env=child_env(tmp, **extra),
        cwd=tmp,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

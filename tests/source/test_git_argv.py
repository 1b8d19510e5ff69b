"""The git URL reaches git after ``--``: a value shaped like an option is a URL to git, never
an option (here ``--upload-pack``, which would run a command), with the real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qengine._errors import BuildError, InvalidInputError
from qengine.interfaces.cancel import CancelToken
from qengine.source import GitAuth, fetch_commit

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_an_option_shaped_url_is_the_remote_url(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    url = f"--upload-pack=touch {marker}"
    dest = tmp_path / "checkout"
    with pytest.raises((BuildError, InvalidInputError)):
        fetch_commit(
            url, SHA, dest, auth=GitAuth(), cancel=CancelToken(), on_line=lambda line: None
        )
    assert not marker.exists()
    configured = subprocess.run(
        ["git", "config", "remote.origin.url"], cwd=dest, capture_output=True, text=True
    )
    assert configured.stdout.strip() == url

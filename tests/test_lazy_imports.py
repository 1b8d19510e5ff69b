"""``qengine validate`` must not pay for cloud SDKs, whatever is installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("boto3", "botocore", "google", "azure", "kubernetes")


@pytest.mark.parametrize("example", ["quickstart", "aws-eks", "gke"])
def test_validate_imports_no_cloud_sdk(example: str) -> None:
    script = (
        "import sys, json\n"
        "from qengine._cli.main import main\n"
        f"code = main(['validate', {str(ROOT / 'examples' / example / 'job.json')!r}])\n"
        f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r})]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    code, imported = json.loads(result.stdout.splitlines()[-1])
    assert code == 0
    assert imported == []


def test_validate_of_an_aks_job_imports_no_azure_sdk() -> None:
    """The Azure plugin's example: loading qengine-azure and checking the job import no SDK."""
    script = (
        "import sys, json\n"
        "from qengine._cli.main import main\n"
        f"code = main(['validate', {str(ROOT / 'examples' / 'aks' / 'job.json')!r}])\n"
        f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r})]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    code, imported = json.loads(result.stdout.splitlines()[-1])
    assert code == 0
    assert imported == []

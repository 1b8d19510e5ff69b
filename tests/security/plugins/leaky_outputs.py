"""A plugin for the leak hunt: its steps open secrets and hand them back as outputs.

Load it with ``qengine -p leaky_outputs`` (this directory on ``PYTHONPATH``). A job targets it
with ``"target": {"kind": "leaky-outputs", "leak": [{"secret": "a"}, ...]}``. The ``report``
step opens every secret and returns outputs holding them, in their keys and values, in the
encodings a job's tool may print (raw, ``repr``, JSON, base64, URL-encoded), and logs each
secret as real tools and Python print it (an exception's traceback, ``kubectl``'s Go JSON and
folded Go YAML, PyYAML, base64 wrapped at 76 columns, HTML, URL encodings); ``consume``
depends on it and logs what it received, so the hunt sees what a dependent step is given.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import subprocess
import traceback
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote

import attrs
import yaml

from qengine.plugin import EnvEngine, JobServices, Registry, hookimpl
from qengine.runner import Step, StepContext
from qengine.spec import EnvironmentJob, SecretRef, TargetSpec


@attrs.frozen(kw_only=True)
class LeakyTarget(TargetSpec):
    """The target: which secrets the steps open."""

    kind: Literal["leaky-outputs"]
    leak: tuple[SecretRef, ...] = ()


class LeakyEngine(EnvEngine):
    """Two steps: ``report`` (outputs full of secrets) and ``consume`` (logs its inputs)."""

    def __init__(self, section: LeakyTarget, services: JobServices) -> None:
        self._names = [ref.secret for ref in section.leak]
        self._services = services

    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """``report`` then ``consume``."""
        return [
            Step(id="report", run=self._report, description="report outputs"),
            Step(id="consume", run=_consume, depends_on=("report",)),
        ]

    pause = resume = restart = delete = deploy

    def _report(self, ctx: StepContext) -> dict[str, str]:
        outputs: dict[str, str] = {}
        for i, name in enumerate(self._names):
            value = self._services.secrets.open(name).reveal()
            raw = value.encode()
            outputs |= {
                f"{name}.plain": value,
                f"{name}.repr": repr({"password": value}),
                f"{name}.json": json.dumps({"password": value}),
                f"{name}.b64": base64.b64encode(b"user:" + raw).decode(),
                f"{name}.url": "https://robot:" + quote(value, safe="") + "@git.example.com",
                f"{name}.dsn": f"postgres://app:{value}@db:5432/app",
                f"key-{i}-{value}": "a secret in the key",
            }
            for text in _printed(value):
                ctx.emit_log(text)
        return outputs


def _printed(value: str) -> list[str]:
    """``value`` as tools and Python print it, one text each (several lines for some)."""
    try:
        int(value)
    except ValueError:
        failure = traceback.format_exc()
    kubectl = shutil.which("kubectl") or "kubectl"
    literal = f"--from-literal=k={'padding ' * 9}{value}"
    argv = [kubectl, "create", "configmap", "c", literal, "--dry-run=client", "-o"]
    go = [
        subprocess.run([*argv, f], capture_output=True, text=True).stdout for f in ("json", "yaml")
    ]
    wrapped = base64.encodebytes(("x" * 41 + value).encode()).decode()
    return [
        failure,
        *go,
        yaml.safe_dump({"k": "x " * 30 + value}, default_style='"'),
        wrapped,
        f"<p title='{html.escape(value)}'>",
        "?q=" + quote(value, safe="!~*'()"),
    ]


def _consume(ctx: StepContext) -> dict[str, str]:
    received = ctx.inputs["report"]
    ctx.emit_log(f"received {json.dumps(dict(received), sort_keys=True)}")
    return {"seen": str(len(received))}


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``leaky-outputs`` target."""
    registry.add_target("leaky-outputs", LeakyTarget, LeakyEngine, "steps that output secrets")

"""``--sandbox`` and ``--secrets``: the only way plain-text secrets reach a run."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import pathlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from qengine._errors import InvalidInputError
from qengine.spec import EnvironmentJob, Job

SANDBOX_TARGET = "sandbox"


def add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """``--sandbox`` and ``--secrets FILE``."""
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="a sandbox run: plain-text demo secrets are sealed in memory under "
        "an ephemeral key (default file: secrets.json beside SPEC)",
    )
    parser.add_argument(
        "--secrets",
        type=pathlib.Path,
        metavar="FILE",
        help="plain-text demo secrets, a JSON object (only with --sandbox); each job gets "
        "only those it references",
    )


def sandbox_secrets(args: argparse.Namespace, spec: str | None = None) -> dict[str, str] | None:
    """The plain-text secrets of a sandbox run of ``spec`` (default ``args.spec``), or None
    for a real run. Without ``--secrets``, the ``secrets.json`` beside the spec, if any."""
    spec = args.spec if spec is None else spec
    if not args.sandbox:
        if args.secrets is not None:
            raise InvalidInputError(
                "plain-text secrets (--secrets) are only accepted by a --sandbox run",
                hint="Seal the job instead: `qengine seal SPEC --secrets FILE --out SEALED`.",
            )
        return None
    path = args.secrets
    if path is None and spec != "-":
        beside = pathlib.Path(spec).with_name("secrets.json")
        path = beside if beside.exists() else None
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the sandbox secrets {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InvalidInputError(f"{path} must be a JSON object of strings")
    return data


def refuse_real_targets(
    args: argparse.Namespace, job: Job, spec: str, environ: Mapping[str, str] | None = None
) -> None:
    """Refuse a ``--sandbox`` run that could reach a real cluster with plain-text secrets.

    Accepted targets: ``sandbox``, a target that stays on this machine
    (``TargetSpec.local_only``), and a kubeconfig target whose clusters are all served on a
    loopback address (a local simulator). A kubeconfig named by any plugin's ``--kubeconfig``
    option or by ``KUBECONFIG`` must be loopback-only too. Anything else exits 2.
    """
    env = os.environ if environ is None else environ
    named = [
        (f"--{dest.rsplit('_', 1)[-1]}", pathlib.Path(str(value)).expanduser())
        for dest, value in sorted(vars(args).items())
        if value is not None and dest.endswith("kubeconfig")
    ]
    named += [("KUBECONFIG", pathlib.Path(p)) for p in env.get("KUBECONFIG", "").split(":") if p]
    for where, named_path in named:
        _require_loopback(named_path, where, spec)
    if not isinstance(job, EnvironmentJob):
        return
    target = job.target
    if target.kind == SANDBOX_TARGET or type(target).local_only:
        return
    if target.kind == "kubeconfig":
        given = getattr(target, "path", None)
        default = named[-1][1] if named else pathlib.Path.home() / ".kube" / "config"
        _require_loopback(pathlib.Path(given) if given else default, "$.target", spec)
        return
    raise InvalidInputError(
        f"{spec}: $.target.kind {target.kind!r} is a real cluster; a --sandbox run only "
        "deploys to the sandbox target (or a local simulator's kubeconfig)",
        hint='Use "target": {"kind": "sandbox"}, or seal the job and run it without --sandbox.',
    )


def _require_loopback(path: pathlib.Path, where: str, spec: str) -> None:
    servers = _servers(path)
    remote = [s for s in servers or [] if not _is_loopback(s)]
    if not servers or remote:
        why = "cannot be read" if servers is None else "names a cluster beyond this machine"
        raise InvalidInputError(
            f"{spec}: a --sandbox run never reaches a real cluster, but the kubeconfig of "
            f"{where} ({path}) {why}",
            hint="Drop --sandbox and seal the job (`qengine seal`), or point it at the "
            f"sandbox; unset {where} if it came from the environment.",
        )


def _servers(path: pathlib.Path) -> list[str] | None:
    """The ``server`` URLs of a kubeconfig (JSON or YAML), or None if it cannot be read."""
    try:
        text = path.read_text()
        import yaml  # the Kubernetes plugin's dependency; only a kubeconfig needs it

        data = yaml.safe_load(text)
    except Exception:  # OSError, ImportError, yaml's own errors: unreadable, so refused
        return None
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, list):
        return None
    servers = [c.get("cluster", {}).get("server") for c in clusters if isinstance(c, dict)]
    return [s if isinstance(s, str) else "" for s in servers]


def _is_loopback(server: str) -> bool:
    host = urlsplit(server).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

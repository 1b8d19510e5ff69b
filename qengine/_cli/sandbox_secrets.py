"""``--sandbox`` and ``--secrets``: the only way plain-text secrets reach a run."""

from __future__ import annotations

import argparse
import json
import pathlib

from qengine._errors import InvalidInputError


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
                hint="Seal the job instead: `qengine seal SPEC --secrets FILE -o SEALED`.",
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

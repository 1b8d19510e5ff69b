"""Options that contradict each other are refused (exit 2) before a command starts, rather
than one of them being silently ignored."""

from __future__ import annotations

import argparse
import os

from qengine._errors import InvalidInputError


def refuse_conflicting_options(args: argparse.Namespace) -> None:
    """Raise :class:`InvalidInputError` naming both options of the first conflict found."""
    if getattr(args, "sandbox", False):
        _refuse_real_cluster_options(args)
    if getattr(args, "clock_skew", None) is not None and not getattr(args, "trust_key", None):
        raise InvalidInputError(
            "--clock-skew applies only to signed jobs checked with --trust-key",
            hint="Add --trust-key PEM, or drop --clock-skew.",
        )
    if getattr(args, "state_password_file", None) is not None and not _shared_store(args):
        raise InvalidInputError(
            "--state-password-file is the password of a --state-url database; there is none",
            hint="Add --state-url postgresql://USER@HOST/DB, or drop --state-password-file.",
        )
    if getattr(args, "generate_key", None) is not None:
        options = (("--key", "key"), ("--out", "out"))
        given = [flag for flag, dest in options if getattr(args, dest, None) is not None]
        if given:
            raise InvalidInputError(
                f"--generate-key writes a new key pair and takes no {' or '.join(given)}",
                hint="Generate the key first, then sign with `qengine sign SPEC --key ...`.",
            )


def _refuse_real_cluster_options(args: argparse.Namespace) -> None:
    """``--sandbox`` deploys to the in-memory sandbox cluster: an option naming a real
    cluster (a plugin's ``--kubeconfig`` or ``--context``) cannot apply to the same run."""
    for dest, value in sorted(vars(args).items()):
        if value is None or not dest.endswith(("_kubeconfig", "_context")):
            continue
        flag = "--" + dest.rsplit("_", 1)[-1]
        raise InvalidInputError(
            f"--sandbox and {flag} cannot be used together: a --sandbox run deploys to a "
            f"sandbox cluster that lives in this process, and {flag} names another cluster",
            hint=f"Drop --sandbox to deploy with {flag} (the job must be sealed: "
            "`qengine seal`), or drop it to deploy to the sandbox.",
        )


def _shared_store(args: argparse.Namespace) -> bool:
    from qengine._cli.state_opts import state_url

    return state_url(args, os.environ) is not None

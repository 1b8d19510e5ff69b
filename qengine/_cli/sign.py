"""``qengine sign SPEC --key PRIVATE.pem --out SIGNED`` and ``qengine sign --generate-key DIR``."""

from __future__ import annotations

import argparse
import pathlib

from qengine._cli.common import add_path_option, print_json
from qengine._errors import InvalidInputError, JobRefusedError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sign``."""
    parser = subparsers.add_parser("sign", help="sign a job (Ed25519 over canonical JSON)")
    parser.add_argument("spec", type=pathlib.Path, nargs="?", metavar="SPEC", help="job (JSON)")
    parser.add_argument("--key", type=pathlib.Path, metavar="PRIVATE.pem", help="signing key")
    add_path_option(
        parser,
        "--out",
        metavar="SIGNED",
        help="the signed job to write",
        old=(),
        required=False,
    )
    parser.add_argument(
        "--generate-key", type=pathlib.Path, metavar="DIR", help="write a new key pair into DIR"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sign SPEC, or generate a key pair; prints the key id."""
    from qengine._cli._jsonio import load_json_object, write_json
    from qengine.secrets.signing import parse_rfc3339, sign_job
    from qengine.secrets.signing_keys import generate_signing_key, load_private_key

    if args.generate_key is not None:
        if args.spec is not None:
            raise InvalidInputError("--generate-key takes no SPEC")
        private_path, public_path, key_id = generate_signing_key(args.generate_key)
        if args.output == "json":
            paths = {"private_key": str(private_path), "public_key": str(public_path)}
            print_json({"ok": True, "key_id": key_id, **paths})
        else:
            print(f"key id {key_id}\nprivate key {private_path}\npublic key {public_path}")
        return 0
    if args.spec is None or args.key is None or args.out is None:
        raise InvalidInputError("sign needs SPEC, --key PRIVATE.pem and --out SIGNED")
    job = load_json_object(args.spec, "job spec")
    if "not_after" not in job:
        raise InvalidInputError(
            f"job spec {args.spec} has no not_after: an engine refuses it once signed",
            hint='Add "not_after": "<RFC 3339 time>" so the signed job expires.',
        )
    try:
        parse_rfc3339(job["not_after"], "$.not_after")
    except JobRefusedError as exc:
        raise InvalidInputError(exc.message) from exc
    signed = sign_job(job, load_private_key(args.key))
    write_json(args.out, signed)
    key_id = signed["signature"]["key_id"]
    if args.output == "json":
        print_json({"ok": True, "key_id": key_id, "out": str(args.out)})
    else:
        print(f"signed with key id {key_id}")
    return 0

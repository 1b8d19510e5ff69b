"""``qengine seal SPEC --secrets FILE --out SEALED``: seal the secrets a job references.

``--rewrap`` takes an already sealed SPEC and re-seals it under the newest key version
(no ``--secrets`` needed). Either way a signature on the input is dropped: sign afterwards.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from qengine._cli._keyopts import add_key_options, key_directory, passphrase_source
from qengine._cli.common import add_path_option, print_json
from qengine._errors import InvalidInputError, SecretError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``seal``."""
    parser = subparsers.add_parser("seal", help="seal a job's secrets for that job")
    parser.add_argument("spec", type=pathlib.Path, metavar="SPEC", help="job spec (JSON)")
    parser.add_argument(
        "--secrets", type=pathlib.Path, metavar="FILE", help="JSON object: name -> value (0600)"
    )
    add_path_option(parser, "--out", metavar="SEALED", help="the sealed job to write", old=())
    parser.add_argument(
        "--rewrap", action="store_true", help="re-wrap a sealed job onto the newest key version"
    )
    add_key_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Seal (or re-wrap) SPEC into SEALED; exit 2 when a referenced secret is missing."""
    from qengine._cli._jsonio import load_json_object, write_json
    from qengine.secrets._filemode import check_private_file
    from qengine.secrets.hygiene import disable_core_dumps
    from qengine.secrets.local_keys import LocalKeyProvider
    from qengine.secrets.sealing import rewrap_job, seal_job

    disable_core_dumps()  # plain-text secrets are in this process's memory, as in `run`
    job = load_json_object(args.spec, "job spec")
    provider = LocalKeyProvider(
        key_directory(args), key_id=args.key_id, passphrase=passphrase_source(args)
    )
    if args.rewrap:
        if args.secrets is not None:
            raise InvalidInputError("--rewrap takes no --secrets: the job carries them sealed")
        result = rewrap_job(job, provider)
    else:
        if args.secrets is None:
            raise InvalidInputError("seal needs --secrets FILE (or --rewrap)")
        try:
            check_private_file(args.secrets, "secrets file")
        except SecretError as exc:  # a file we will not read is bad input, not a failure
            raise InvalidInputError(exc.message, hint=exc.hint) from None
        result = seal_job(job, load_json_object(args.secrets, "secrets file"), provider)
    write_json(args.out, result)
    if args.output == "json":
        print_json({"ok": True, "out": str(args.out)})
    if "signature" in job:
        print("note: the input's signature was dropped; sign the output again", file=sys.stderr)
    return 0

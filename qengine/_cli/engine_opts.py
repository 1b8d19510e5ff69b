"""Building an :class:`~qengine._engine.Engine` from command-line options."""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from qengine._cli._keyopts import add_key_options, key_directory, passphrase_source
from qengine._cli.common import plugin_set, plugin_settings
from qengine._cli.state_opts import add_state_options, open_store
from qengine._errors import InvalidInputError
from qengine._paths import state_dir

if TYPE_CHECKING:
    from qengine._engine import Engine
    from qengine.interfaces.state import StateStore
    from qengine.terraform import TerraformSettings


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """State directory, keys, trust and audit options."""
    add_key_options(parser)
    add_state_options(parser)
    parser.add_argument(
        "--clock-skew",
        type=float,
        metavar="SECONDS",
        help="with --trust-key: how far past not_after a job is still accepted (default: 300)",
    )
    parser.add_argument(
        "--trust-key",
        action="append",
        type=pathlib.Path,
        metavar="PEM",
        help="refuse jobs not signed by this public key (repeatable)",
    )
    parser.add_argument(
        "--audit-log",
        type=pathlib.Path,
        metavar="FILE",
        help="audit log (default: STATE_DIR/audit.jsonl)",
    )
    parser.add_argument(
        "--audit-hmac-key-file",
        type=pathlib.Path,
        metavar="FILE",
        help="key file making the audit chain unforgeable (HMAC)",
    )
    _add_terraform_options(parser)


def _add_terraform_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("terraform (where providers and modules come from)")
    group.add_argument(
        "--terraform-provider-mirror",
        type=pathlib.Path,
        metavar="DIR",
        help="filesystem mirror of providers (made with `terraform providers mirror DIR`): "
        "the only provider source, no network",
    )
    group.add_argument(
        "--terraform-plugin-cache",
        type=pathlib.Path,
        metavar="DIR",
        help="plugin cache: providers are downloaded from their registries once into DIR "
        "(network needed); with a mirror, the mirror stays the only source",
    )
    group.add_argument(
        "--terraform-module-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="registry modules as local directories, DIR/NAMESPACE/NAME/PROVIDER/VERSION/",
    )


@contextmanager
def engine_from(args: argparse.Namespace) -> Iterator[Engine]:
    """An engine for the options in ``args``; its store and audit log are closed after use."""
    from qengine._engine import Engine, Trust
    from qengine.audit.sink import JsonlAuditSink, default_audit_path, load_hmac_key
    from qengine.secrets.local_keys import LocalKeyProvider
    from qengine.secrets.signing_keys import load_trusted_keys

    plugins = plugin_set(args)
    # Refuses a bad directory or plugin option before anything is opened.
    settings: dict[str, object] = {}
    if any(getattr(args, name, None) is not None for name in _TERRAFORM_DIRECTORIES):
        # Without them the jobs' services use the defaults (terraform_settings_of): the
        # Terraform driver is not imported for a run that does not need it.
        settings["terraform"] = terraform_settings(args)
    settings.update(plugin_settings(plugins, args))
    explicit = args.state_dir is not None
    directory = state_dir(args.state_dir, environ=os.environ)
    args.state_dir = directory
    scope = ExitStack()
    store = _journal(args, directory, explicit=explicit, scope=scope)
    hmac_key = load_hmac_key(args.audit_hmac_key_file) if args.audit_hmac_key_file else None
    audit = JsonlAuditSink(args.audit_log or default_audit_path(directory), hmac_key=hmac_key)
    trust = None
    if args.trust_key:
        skew = datetime.timedelta(seconds=300.0 if args.clock_skew is None else args.clock_skew)
        trust = Trust(keys=load_trusted_keys(args.trust_key), clock_skew=skew)
    provider = LocalKeyProvider(
        key_directory(args), key_id=args.key_id, passphrase=passphrase_source(args)
    )
    try:
        yield Engine(
            plugins,
            store=store,
            key_provider=provider,
            trust=trust,
            audit=audit,
            settings=settings,
        )
    finally:
        audit.close()
        store.close()
        scope.close()


def _journal(
    args: argparse.Namespace, directory: pathlib.Path, *, explicit: bool, scope: ExitStack
) -> StateStore:
    """The store of the run: the options' own, except for a sandbox run without an explicit
    ``--state-dir`` or ``--state-url``, whose journal lives in a temporary directory for that
    run only. Its cluster is new and in memory, so an earlier run's journal would make it skip
    steps that were never done there (and a sandbox run would make a real run skip them).
    ``args.sandbox_journal`` says which (``"run"`` or ``"kept"``)."""
    args.sandbox_journal = "kept"
    if getattr(args, "sandbox", False) and not explicit and not getattr(args, "state_url", None):
        from qengine.runner import SqliteStateStore

        args.sandbox_journal = "run"
        temporary = scope.enter_context(tempfile.TemporaryDirectory(prefix="qengine-sandbox-"))
        return SqliteStateStore(pathlib.Path(temporary))
    return open_store(args, directory)


_TERRAFORM_DIRECTORIES = (
    "terraform_provider_mirror",
    "terraform_plugin_cache",
    "terraform_module_dir",
)


def terraform_settings(args: argparse.Namespace) -> TerraformSettings:
    """The ``--terraform-*`` options as settings; each given path must be a directory."""
    from qengine.terraform import ProviderSources, TerraformSettings

    return TerraformSettings(
        sources=ProviderSources(
            mirror_dir=_directory(args, "terraform_provider_mirror"),
            plugin_cache_dir=_directory(args, "terraform_plugin_cache"),
        ),
        module_dir=_directory(args, "terraform_module_dir"),
    )


def _directory(args: argparse.Namespace, name: str) -> pathlib.Path | None:
    given: pathlib.Path | None = getattr(args, name, None)
    if given is None:
        return None
    path = given.expanduser().resolve()
    if not path.is_dir():
        flag = "--" + name.replace("_", "-")
        what = "does not exist" if not path.exists() else "is not a directory"
        raise InvalidInputError(
            f"{flag}: {given} {what}",
            hint=f"Give {flag} an existing directory"
            + (" (make one with `terraform providers mirror DIR`)." if "mirror" in flag else "."),
        )
    return path

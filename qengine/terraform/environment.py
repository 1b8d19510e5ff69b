"""The explicit environment of every terraform process.

Terraform gets nothing from the host's environment but ``PATH``: its HOME and TMPDIR are
inside the workspace, its CLI configuration is ours, and cloud credentials are added here and
nowhere else (never argv, never a file, never ``os.environ``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from qengine._errors import InvalidInputError
from qengine.terraform.json_types import Json
from qengine.terraform.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset(
    {"PATH", "HOME", "TMPDIR", "TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION", "TF_INPUT"}
    | {"CHECKPOINT_DISABLE", "TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "TF_CLI_ARGS"}
)
# Terraform's debug log can include request details; it is never switched on from a job.
_FORBIDDEN_PREFIXES = ("TF_LOG", "TF_CLI_ARGS")
# Backend settings that carry secrets: they must come through the environment instead.
SECRET_BACKEND_KEYS = frozenset(
    {"access_key", "secret_key", "token", "sas_token", "client_secret", "password"}
    | {"access_token", "credentials", "encryption_key", "client_certificate_password"}
)


def terraform_env(
    workspace: Workspace, *, credentials: Mapping[str, str], extra: Mapping[str, str]
) -> dict[str, str]:
    """The complete environment for a terraform process working in ``workspace``."""
    for name in [*credentials, *extra]:
        _check_name(name)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(workspace.path),
        "TMPDIR": str(workspace.tmp_dir),
        "TF_CLI_CONFIG_FILE": str(workspace.cli_config_file),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
    return {**env, **extra, **credentials}


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInputError(f"not an environment variable name: {name!r}")
    if name in _RESERVED or name.startswith(_FORBIDDEN_PREFIXES):
        raise InvalidInputError(
            f"environment variable {name} is set by the Terraform driver itself",
            hint="Remove it from the credentials or environment given to the driver.",
        )


def check_backend_config(config: Mapping[str, Json], credentials: Mapping[str, str]) -> None:
    """Refuse backend settings that would put a secret in the workspace's files.

    A secret's key with an empty value carries nothing: it blanks the backend's default from
    the environment (e.g. azurerm's ``client_secret``, which would otherwise come from
    ``ARM_CLIENT_SECRET``, the provider's variable), so it is allowed.
    """
    leaked = sorted(
        key for key, value in config.items() if key in SECRET_BACKEND_KEYS and value != ""
    )
    secrets = {value for value in credentials.values() if value}
    leaked += sorted(key for key, value in config.items() if _mentions(value, secrets))
    if leaked:
        raise InvalidInputError(
            f"backend settings may not carry credentials: {', '.join(dict.fromkeys(leaked))}",
            hint="Pass credentials to the driver as environment variables (for S3:"
            " AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); Terraform writes"
            " backend settings to files in the workspace.",
        )


def _mentions(value: Json, secrets: set[str]) -> bool:
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, dict):
        return any(_mentions(item, secrets) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, secrets) for item in value)
    return False

"""The Terraform driver: a thin, typed wrapper over the real ``terraform`` binary.

Usage, in outline::

    with Workspace.create() as workspace:
        workspace.write_root_module(module)          # Terraform JSON, built as data
        tf = Terraform(workspace, cancel=token, on_line=emit, redact=redact,
                       credentials={"AWS_SECRET_ACCESS_KEY": ...})
        tf.init(backend_config={"bucket": ..., "key": ..., "region": ...})
        plan = tf.plan()
        tf.apply(plan)                                # guarded against destroying protected types
        outputs = tf.outputs()

See ``docs/terraform.md``.
"""

from qengine.terraform.binary import TerraformNotFoundError, find_terraform
from qengine.terraform.cliconfig import ProviderSources
from qengine.terraform.driver import Terraform
from qengine.terraform.errors import (
    DependencyViolationError,
    LockInfo,
    MalformedOutputError,
    StateLockedError,
    TerraformError,
    classify,
)
from qengine.terraform.guard import (
    DestructiveChangeError,
    DestructiveGuard,
)
from qengine.terraform.json_types import literal
from qengine.terraform.messages import Diagnostic, LogLine
from qengine.terraform.outputs import OutputValue
from qengine.terraform.plan import Plan, PlanFile, PlannedChange
from qengine.terraform.settings import (
    TerraformSettings,
    TerraformSettingsError,
    mirror_versions,
    terraform_settings_of,
)
from qengine.terraform.workspace import Workspace

__all__ = [
    "DependencyViolationError",
    "DestructiveChangeError",
    "DestructiveGuard",
    "Diagnostic",
    "LockInfo",
    "LogLine",
    "MalformedOutputError",
    "OutputValue",
    "Plan",
    "PlanFile",
    "PlannedChange",
    "ProviderSources",
    "StateLockedError",
    "Terraform",
    "TerraformError",
    "TerraformNotFoundError",
    "TerraformSettings",
    "TerraformSettingsError",
    "Workspace",
    "classify",
    "find_terraform",
    "literal",
    "mirror_versions",
    "terraform_settings_of",
]

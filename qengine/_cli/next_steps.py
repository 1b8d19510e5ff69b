"""What ``qengine run`` suggests after a job that succeeded: how to look at what it did.

The lines go under the recap (see :class:`~qengine.runner.console.ConsoleSink`): the journal's
record (``qengine status``), the objects on the cluster for an environment job on a
Kubernetes target (``kubectl``, selected by the environment-id label every object carries),
and the blueprints ``qengine export`` would write.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping

__all__ = ["next_steps"]

# The Kubernetes plugin's targets and the label it puts on every object of an environment.
_KUBE_TARGETS = frozenset({"kubeconfig", "in-cluster", "sandbox"})
_ENVIRONMENT_LABEL = "qengine.dev/environment-id"


def next_steps(args: argparse.Namespace, spec: str, document: Mapping[str, object]) -> list[str]:
    """The suggestions for the job of ``document`` read from ``spec``, run with ``args``."""
    job_id = str(document.get("id", "JOB_ID"))
    lines = []
    if getattr(args, "sandbox_journal", "kept") == "run":
        lines.append(
            "qengine history   # this sandbox run's journal ended with it; the audit log "
            "keeps when it ran and how it ended"
        )
    elif getattr(args, "state_url", None) is None and args.state_dir is not None:
        where = shlex.join(["--state-dir", str(args.state_dir)])
        lines.append(f"qengine status {shlex.quote(job_id)} {where}   # what the journal kept")
    lines += _kubectl(args, document)
    source = "SPEC" if spec == "-" else shlex.quote(spec)
    lines.append(
        f"qengine export {source} --out-dir DIR   # its charts, manifests or Terraform, "
        "to read or apply without qengine"
    )
    return lines


def _kubectl(args: argparse.Namespace, document: Mapping[str, object]) -> list[str]:
    target = document.get("target")
    environment = document.get("environment")
    if not isinstance(target, Mapping) or not isinstance(environment, Mapping):
        return []
    if target.get("kind") not in _KUBE_TARGETS or "id" not in environment:
        return []
    kubeconfig = getattr(args, "kubernetes_kubeconfig", None)
    context = getattr(args, "kubernetes_context", None)
    if kubeconfig is None:  # the target's own file and context, as the plugin reads them
        kubeconfig, context = target.get("path"), target.get("context")
    if args.sandbox or (target.get("kind") == "sandbox" and kubeconfig is None):
        return [
            "kubectl: this sandbox cluster ended with the run; `qengine sandbox kube "
            "--kubeconfig FILE` serves one that stays, for a sealed job run with --kubeconfig FILE"
        ]
    command = ["kubectl"]
    if kubeconfig is not None:
        command += ["--kubeconfig", str(kubeconfig)]
    if context is not None:
        command += ["--context", str(context)]
    command += ["get", "all", "-A", "-l", f"{_ENVIRONMENT_LABEL}={environment['id']}"]
    return [f"{shlex.join(command)}   # what runs on the cluster"]

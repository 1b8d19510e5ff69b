"""Helm services: ``helm upgrade --install --atomic --wait`` with the real helm binary.

The binary is ``KubeSettings.helm``, else the host's ``QENGINE_HELM``, else ``helm`` on the
host's PATH. Values (secret references opened) and a kubeconfig for the job's cluster are
written with mode 0600 in a private temporary directory removed when the step ends; helm runs
through ``qengine.runner.run_process`` with an explicit environment (HOME and helm's cache,
config and data directories inside that directory), and each output line goes to the job's
log (redacted). A local chart ``path`` is read inside ``KubeSettings.chart_root`` only (see
:mod:`qengine_kubernetes.charts`: no root, no local chart; nothing may lead out of the root).

No-op: the digest of what helm is given (chart reference, version, values, timeout, and for a
local chart its files) is kept in the service's history Secret; when it is unchanged and the
release is ``deployed``, helm is not run. A release stuck in ``pending-install``,
``pending-upgrade`` or ``pending-rollback`` (a helm killed mid-way) is recovered first:
uninstalled when it is at revision 1, rolled back otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from qengine.plugin import DeploymentError, InvalidInputError
from qengine.runner import ChangeAction, StepContext, run_process
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.spec import EnvAction, HelmService, parse_duration
from qengine_kubernetes import history
from qengine_kubernetes.charts import local_chart
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.render import Manifest, canonical_json

PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})


def helm_binary(env: EnvJob) -> str:
    """The helm to run."""
    return env.settings.helm or os.environ.get("QENGINE_HELM") or "helm"


class HelmCli:
    """Runs the helm ``binary`` for one step on the cluster ``api`` talks to, in a private
    ``directory`` (0700, removed by its owner) holding a kubeconfig (0600) and helm's homes.

    The public runner other plugins use (the cluster add-on stack); :class:`Helm` is the one
    of an environment job.
    """

    def __init__(self, ctx: StepContext, directory: Path, *, binary: str, api: KubeApi) -> None:
        self.binary = binary
        self.ctx = ctx
        self.directory = directory
        self.kubeconfig = write_private_file(directory, "kubeconfig", kubeconfig_of(api).encode())
        home = str(directory)
        self.environ = child_env(
            extra={
                "HOME": home,
                "HELM_CACHE_HOME": f"{home}/cache",
                "HELM_CONFIG_HOME": f"{home}/config",
                "HELM_DATA_HOME": f"{home}/data",
            }
        )

    def run(self, *args: str, show: bool = True) -> tuple[int, list[str]]:
        """Run ``helm args`` on the job's cluster; (exit code, output lines)."""
        lines: list[str] = []

        def on_line(line: str) -> None:
            lines.append(line)
            if show:
                self.ctx.emit_log(f"helm: {line}")

        # Global flags before the command's words, so that a "--" in ``args`` ends them all.
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        try:
            code = run_process(argv, env=self.environ, on_line=on_line, cancel=self.ctx.cancel)
        except FileNotFoundError as exc:
            raise InvalidInputError(
                f"the helm binary {argv[0]!r} cannot be found",
                hint="Install helm 3 or set QENGINE_HELM to its path on the engine's host.",
            ) from exc
        self.ctx.cancel.raise_if_cancelled()
        return code, lines

    def status(self, release: str, namespace: str) -> dict[str, Any] | None:
        """``helm status -o json`` of the release; None when there is none."""
        code, lines = self.run(
            "status", release, "--namespace", namespace, "-o", "json", show=False
        )
        if code != 0:
            return None
        try:
            data: dict[str, Any] = json.loads("\n".join(lines))
        except ValueError:
            return None
        return data


class Helm(HelmCli):
    """Runs helm for one step, in a private directory with a kubeconfig of the job's cluster."""

    def __init__(self, env: EnvJob, ctx: StepContext, directory: Path) -> None:
        super().__init__(ctx, directory, binary=helm_binary(env), api=env.api())
        self.env = env


def kubeconfig_of(api: KubeApi) -> str:
    """A kubeconfig of the cluster ``api`` talks to (server, CA, token, basic credentials or
    client certificate, inline: the file is private to the step)."""
    import base64

    def encoded(data: bytes) -> str:
        return base64.b64encode(data).decode()

    connection = api.transport.connection
    cluster: dict[str, Any] = {"server": connection.server}
    if connection.ca_pem:
        cluster["certificate-authority-data"] = encoded(connection.ca_pem)
    if not connection.verify:
        cluster["insecure-skip-tls-verify"] = True
    if connection.tls_server_name:
        cluster["tls-server-name"] = connection.tls_server_name
    if connection.proxy:
        cluster["proxy-url"] = connection.proxy
    user: dict[str, Any] = {}
    token = connection.bearer_token()
    if token:
        user["token"] = token
    basic = connection.basic_credentials()
    if basic:
        user["username"], user["password"] = basic
    if connection.client_cert:
        user["client-certificate-data"] = encoded(connection.client_cert[0])
        user["client-key-data"] = encoded(connection.client_cert[1])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "target", "cluster": cluster}],
        "users": [{"name": "qengine", "user": user}],
        "contexts": [{"name": "target", "context": {"cluster": "target", "user": "qengine"}}],
        "current-context": "target",
    }
    import yaml

    return yaml.safe_dump(config)


def _chart_args(env: EnvJob, service: HelmService) -> list[str]:
    chart = service.chart
    if chart.path is not None:
        where = f"the chart path of the Helm service {service.name!r}"
        args = [str(local_chart(env.settings.chart_root, chart.path, where))]
    elif chart.repository is not None and chart.repository.startswith("oci://"):
        args = [f"{chart.repository.rstrip('/')}/{chart.name}"]
    else:
        args = [chart.name, "--repo", str(chart.repository)]
        if chart.username:
            args += ["--username", chart.username]
    if chart.version:
        args += ["--version", chart.version]
    return args


def _as_flags(chart: list[str]) -> tuple[str, list[str]]:
    """``_chart_args``'s words as (the chart's positional reference, ``--flag=value`` words)."""
    where, rest = chart[0], chart[1:]
    return where, [f"{flag}={value}" for flag, value in zip(rest[::2], rest[1::2], strict=True)]


def _digest(env: EnvJob, service: HelmService, values: str, chart: list[str]) -> str:
    material = hashlib.sha256(canonical_json([chart, values, service.timeout]).encode())
    if service.chart.path is not None:
        root = Path(chart[0])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            material.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return material.hexdigest()


PREVIOUS_REVISION = "previous_revision"


def deploy_release(env: EnvJob, name: str, ctx: StepContext) -> dict[str, str]:
    """Install or upgrade the release of Helm service ``name``; unchanged: run nothing."""
    service = env.service(name)
    assert isinstance(service, HelmService)
    api = env.api()
    import yaml

    values = yaml.safe_dump(service.values.resolve(env.open_secret))
    chart = _chart_args(env, service)
    digest = _digest(env, service, values, chart)
    past = history.load(api, env.namespace, name, env.job.environment.id)
    record = {"apiVersion": "qengine.dev/v1", "kind": "HelmRelease", "metadata": {"name": name}}
    record["digest"] = digest
    with private_tempdir(env.job.id) as directory:
        helm = Helm(env, ctx, directory)
        status = helm.status(name, env.namespace)
        state = (status or {}).get("info", {}).get("status", "")
        same = past.latest is not None and list(past.latest.objects) == [record]
        if same and state == "deployed":
            ctx.emit_progress(f"{name}: unchanged", service=name)
            return {}
        if state in PENDING:
            _recover_pending(helm, name, env.namespace, int((status or {}).get("version", 1)))
        values_file = write_private_file(directory, "values.yaml", values.encode())
        seconds = int(parse_duration(service.timeout))
        where, flags = _as_flags(chart)
        # Spec values are flag values (--flag=value) or come after "--": none reads as a flag.
        code, lines = helm.run(
            "upgrade", "--install", f"--namespace={env.namespace}",
            "--atomic", "--wait", f"--timeout={seconds}s", f"--values={values_file}",
            *flags, "--", name, where,
        )  # fmt: skip
        if code != 0:
            tail = " / ".join(lines[-3:])
            raise DeploymentError(
                f"helm upgrade --install of {name} failed (exit {code}): {tail}",
                hint="helm rolled the release back (--atomic); read its log lines above.",
            )
    action = ChangeAction.CREATE if status is None else ChangeAction.UPDATE
    ctx.emit_resource_changed(action, "HelmRelease", name)
    history.save(api, past.with_revision(env.job.id, [record], env.settings.history_limit))
    # What a rollback of this job goes back to: the revision that was deployed, or none.
    before = int((status or {}).get("version", 0)) if state == "deployed" else 0
    return {PREVIOUS_REVISION: str(before)}


def undo_release(env: EnvJob, name: str, ctx: StepContext) -> None:
    """The ``compensate`` of a Helm service's deploy step, when the job fails or is cancelled
    after the release was upgraded: ``helm rollback`` to the revision that was deployed before
    the job (a new revision with its manifest), or ``helm uninstall`` of a release the job
    installed; the job's revision leaves the service's history. An unchanged release (no
    ``previous_revision`` output) needs nothing."""
    before = ctx.outputs.get(PREVIOUS_REVISION)
    if before is None:
        ctx.emit_progress(f"{name}: nothing of this job to roll back", service=name)
        return
    with private_tempdir(env.job.id) as directory:
        helm = Helm(env, ctx, directory)
        if before == "0":
            verb = "uninstall"
            code, lines = helm.run(
                "uninstall", f"--namespace={env.namespace}", "--wait", "--", name
            )
        else:
            verb = f"rollback to revision {before}"
            code, lines = helm.run(
                "rollback", f"--namespace={env.namespace}", "--wait", "--", name, before
            )
    if code != 0:
        raise DeploymentError(
            f"helm {verb} of {name} failed (exit {code}): {' / '.join(lines[-3:])}",
            hint="Read helm's log lines above; `helm history` shows where the release stands.",
        )
    api = env.api()
    past = history.load(api, env.namespace, name, env.job.environment.id)
    kept = past.without_job(ctx.job_id)
    if kept.revisions != past.revisions:
        history.save(api, kept)
    done = "uninstalled" if before == "0" else f"rolled back to revision {before}"
    ctx.emit_progress(f"{name}: {done}", service=name)


def recover_pending(helm: HelmCli, name: str, namespace: str, revision: int) -> None:
    """Unlock a release stuck in a ``pending-*`` state at ``revision`` (a helm killed mid-way):
    uninstalled at revision 1, rolled back otherwise; a failure to do so is raised."""
    _recover_pending(helm, name, namespace, revision)


def _recover_pending(helm: HelmCli, name: str, namespace: str, revision: int) -> None:
    helm.ctx.emit_warning(f"{name}: the release was stuck at revision {revision}; recovering")
    if revision <= 1:
        code, _ = helm.run("uninstall", f"--namespace={namespace}", "--wait", "--", name)
    else:
        code, _ = helm.run("rollback", f"--namespace={namespace}", "--wait", "--", name)
    if code != 0:
        raise DeploymentError(
            f"cannot recover the release {name} stuck in a pending state",
            hint=f"Run `helm rollback {name}` or `helm uninstall {name}` by hand.",
        )


def is_release_history(secret: Manifest) -> bool:
    """Whether a history Secret records a Helm release (its revisions hold a HelmRelease)."""
    revisions = history.decode(secret)
    return bool(revisions) and any(o.get("kind") == "HelmRelease" for o in revisions[-1].objects)


def uninstall_release(env: EnvJob, name: str, ctx: StepContext) -> None:
    """``helm uninstall`` the release ``name`` when it exists."""
    with private_tempdir(env.job.id) as directory:
        helm = Helm(env, ctx, directory)
        if helm.status(name, env.namespace) is None:
            return
        code, _ = helm.run("uninstall", f"--namespace={env.namespace}", "--wait", "--", name)
        if code != 0:
            raise DeploymentError(
                f"helm uninstall of {name} failed (exit {code})",
                hint="Read helm's log lines above.",
            )
        ctx.emit_resource_changed(ChangeAction.DELETE, "HelmRelease", name)


def lifecycle_release(
    env: EnvJob, name: str, ctx: StepContext, action: EnvAction
) -> dict[str, str]:
    """pause/resume/restart leave a release alone (with a warning); delete uninstalls it."""
    if action is not EnvAction.DELETE:
        ctx.emit_warning(f"{name}: {action.value} does not apply to a Helm release; left as is")
        return {}
    uninstall_release(env, name, ctx)
    env.api().delete("Secret", env.namespace, history.secret_name(name))
    return {}

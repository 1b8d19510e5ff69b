"""The add-on stack as steps of an infrastructure job: CRDs first, then each add-on's release
in dependency order, each waiting for what it needs; add-ons turned off are uninstalled.

Steps (ids are stable, so a resumed job continues where it stopped):

- ``addons.crds``: every enabled add-on's chart is fetched (its archive checked against the
  freeze file's digest) and rendered with its ``crd_values``; the CustomResourceDefinitions it
  holds (``crds/`` and templates alike) are applied by server-side apply, each marked with
  the digest of what was applied, so an unchanged CRD is not written again, and waited for
  until ``Established``. Helm never upgrades CRDs; this step does, and releases are installed
  with ``--skip-crds`` and their chart's own CRD switch off, so an uninstall never deletes a
  CRD (and with it every custom resource of its kind).
- ``addons.<name>`` per enabled add-on, after ``addons.crds`` and the add-ons it ``needs``:
  ``helm upgrade --install --atomic --wait --wait-for-jobs --skip-crds`` of the verified
  archive in ``qengine-system``, with ``--description`` carrying the digest of what was
  asked (chart, version, archive digest, values). A release ``deployed`` with that
  description is left alone (no helm write, no cluster write). A release stuck in
  ``pending-install``/``pending-upgrade``/``pending-rollback`` is recovered first (uninstalled
  at revision 1, rolled back otherwise). A failed install or upgrade is rolled back by helm
  (``--atomic``) and reported with the add-on's name, what helm did and a hint. Then the
  webhook gate: for every admission webhook the release declares, its Service must have a
  ready endpoint before the step ends, so an add-on that creates objects such a webhook
  validates (the ClusterIssuers, after cert-manager) never meets a webhook that cannot answer.
  And the issuers gate: every ClusterIssuer the release declares must be ``Ready`` for its
  current generation (cert-manager has registered its ACME account) before the step ends;
  one that is not within the gate's timeout fails the step with cert-manager's own reason
  and message (an ACME server the cluster cannot reach, say), rather than leave issuers that
  would never issue a certificate.
- ``addons.remove.<name>`` per add-on of the freeze file that the job turns off: ``helm
  uninstall --wait`` when the release exists (dependents before what they need); CRDs stay.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import attrs
import yaml
from qengine_kubernetes.client import KubeApi, NotFoundError
from qengine_kubernetes.helm_release import PENDING, HelmCli, recover_pending
from qengine_kubernetes.render.router import INGRESS_CLASS

from qengine.plugin import ConflictError, DeploymentError, InfrastructureError, InvalidInputError
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.secrets.hygiene import private_tempdir, write_private_file
from qengine.spec import InfrastructureJob
from qengine_addons.flags import (
    DNS_PROVIDERS,
    dns01_wanted,
    dns_kind,
    enabled_addons,
)
from qengine_addons.freeze import Freeze, PinnedChart, chart_digest, load_freeze
from qengine_addons.pins import check_or_pin

CHARTS = Path(__file__).with_name("charts")
TEST_CHARTS = Path(__file__).with_name("testcharts")
#: cluster-autoscaler's image tag for each Kubernetes minor version: its releases follow the
#: Kubernetes minors, and a release is supported against its own minor only. Unchecked against
#: registry.k8s.io (see docs/addons.md); a minor not listed gets its ``.0`` release.
AUTOSCALER_IMAGE_TAGS: Mapping[str, str] = {
    "1.28": "v1.28.7",
    "1.29": "v1.29.5",
    "1.30": "v1.30.4",
    "1.31": "v1.31.2",
    "1.32": "v1.32.1",
    "1.33": "v1.33.0",
}
#: Where a chart takes its service account's name and annotations, when not ``serviceAccount``.
SERVICE_ACCOUNT_KEYS: Mapping[str, tuple[str, ...]] = {
    "cluster-autoscaler": ("rbac", "serviceAccount"),
}
#: Add-ons whose values read another add-on's identity (the issuers' Azure DNS solver names
#: cert-manager's managed identity).
READS_IDENTITY_OF: Mapping[str, tuple[str, ...]] = {"cluster-issuers": ("cert-manager",)}
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_USE_LABEL = {"azure.workload.identity/use": "true"}
CRD_DIGEST = "qengine.dev/applied-digest"
PART_OF = {"app.kubernetes.io/part-of": "qengine-addons"}
APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "qengine-addons"
CRDS_STEP = "addons.crds"
WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")

#: The engine host's switch that refuses charts whose digest the freeze file does not record.
REQUIRE_DIGESTS_ENV = "QENGINE_ADDONS_REQUIRE_DIGESTS"

ClusterConnect = Callable[[StepContext], KubeApi]
#: The annotations of an add-on's service account that give it the cloud's short-lived
#: identity (IRSA's ``eks.amazonaws.com/role-arn``, a workload identity's client id), or a
#: function that reads them inside the add-on's step: its context's inputs are the outputs of
#: the steps the stack comes after (``after``), such as the ARN of a role the cluster's apply
#: made. A function that returns no annotation leaves the service account without identity.
ServiceAccountIdentity: TypeAlias = Mapping[str, str] | Callable[[StepContext], Mapping[str, str]]


@attrs.frozen(kw_only=True)
class AddonSettings:
    """How the engine installs the stack (the engine's settings, not the job's).

    ``helm``: the helm binary (default ``QENGINE_HELM``, else ``helm`` on the PATH).
    ``freeze``: the stack (default: the package's freeze file). ``chart_dir``: a directory of
    chart archives named ``<chart>-<version>.tgz`` to install from instead of any repository
    (an air-gapped host, the sandbox). ``plain_http``: reach an ``oci://`` mirror over plain
    HTTP (a local test registry only). ``timeout``: seconds helm waits for each release,
    overriding the freeze file's. ``gate_timeout``: seconds a webhook's Service may take to
    get a ready endpoint. ``require_digests``: refuse a chart whose digest the freeze file
    does not record (default: ``QENGINE_ADDONS_REQUIRE_DIGESTS`` set to ``1``); otherwise such a
    chart is trusted on first use and its digest pinned in the cluster
    (:mod:`qengine_addons.pins`), and a later archive that differs is refused.
    ``test_charts``: install the package's test stand-in charts (``testcharts/``, packaged by
    helm in each step) under the test freeze instead of the real stack: the sandbox's stack,
    which nothing but the simulator can run.
    """

    helm: str | None = None
    freeze: Freeze | None = None
    chart_dir: str | None = None
    plain_http: bool = False
    timeout: int | None = None
    gate_timeout: float = 300.0
    poll_interval: float = 1.0
    require_digests: bool = attrs.field(factory=lambda: _env_flag(REQUIRE_DIGESTS_ENV))
    test_charts: bool = False

    def stack(self) -> Freeze:
        """The freeze in force."""
        if self.freeze is not None:
            return self.freeze
        if self.test_charts:
            return load_freeze(TEST_CHARTS / "freeze.json")
        return load_freeze()

    def binary(self) -> str:
        """The helm to run."""
        return self.helm or os.environ.get("QENGINE_HELM") or "helm"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def require_helm(job: InfrastructureJob, settings: AddonSettings | None = None) -> str | None:
    """The helm binary the job's add-on steps will run, checked before anything is applied.

    A cloud plugin calls it from its preflight step, so that a host without helm fails the
    job before Terraform creates a cluster (instead of at the first add-on step, with a
    cluster to roll back). None when the job leaves the add-ons alone (``manage: false``);
    otherwise the binary's path. Raises :class:`~qengine.plugin.InvalidInputError`, with a hint,
    when it cannot be found or run.
    """
    if not job.cluster.addons.manage:
        return None
    binary = (settings or AddonSettings()).binary()
    found = shutil.which(binary)
    if found is None:
        where = "on the PATH" if os.sep not in binary else "there"
        raise InvalidInputError(
            f"the cluster's add-on stack needs helm 3, and {binary!r} is not an executable {where}",
            hint="Install helm 3 or set QENGINE_HELM to its path on the engine's host (from a "
            "checkout of qengine, `export QENGINE_HELM=$(bash .ci/get-helm.sh)` fetches one); "
            'or set cluster.addons to {"manage": false} to leave the add-ons alone.',
        )
    return found


def autoscaler_image_tag(kubernetes_version: str) -> str:
    """cluster-autoscaler's image tag for a cluster of ``kubernetes_version`` (``1.31``)."""
    return AUTOSCALER_IMAGE_TAGS.get(kubernetes_version, f"v{kubernetes_version}.0")


def service_account_subject(name: str, freeze: Freeze | None = None) -> str:
    """The Kubernetes subject (``system:serviceaccount:<namespace>:<name>``) of the service
    account of the add-on ``name``, for a cloud identity's trust (an IAM role's, a federated
    credential's). The service account is named after the release, as the charts name it by
    default, and :func:`addon_values` pins that name whenever it gives the account an
    identity, so the trust and the chart cannot disagree."""
    namespace = (freeze or load_freeze()).namespace
    return f"system:serviceaccount:{namespace}:{name}"


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def addon_values(
    addon: PinnedChart,
    job: InfrastructureJob,
    service_accounts: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The release's values: the freeze file's, then what the job decides, then the cloud's
    service account annotations (short-lived identity: IRSA, workload identity), given with
    the account's name (the release's: see :func:`service_account_subject`)."""
    values = dict(addon.values)
    if addon.name == "external-dns" and job.dns is not None:
        kind = job.dns.kind
        zone = getattr(job.dns, "zone", None)
        own: dict[str, Any] = {
            "provider": {"name": DNS_PROVIDERS.get(kind, kind)},
            "txtOwnerId": job.cluster.id,
        }
        if zone:
            own["domainFilters"] = [zone]
        if kind == "azure-dns":
            own.update(_azure_dns_values(job.dns))
        if kind == "cloud-dns":
            own.update(_google_dns_values(job.dns))
        values = _merge(values, own)
    if addon.name == "cluster-issuers":
        values = _merge(values, {"ingressClassName": INGRESS_CLASS})
        if dns01_wanted(job):
            cert_manager = (service_accounts or {}).get("cert-manager") or {}
            values = _merge(values, {"dns01": dns01_solver(job, cert_manager)})
    if addon.name == "cert-manager" and dns01_wanted(job) and dns_kind(job) == "azure-dns":
        values = _merge(values, {"podLabels": AZURE_USE_LABEL})
    if addon.name == "cluster-autoscaler":
        values = _merge(values, _autoscaler_values(job))
    annotations = (service_accounts or {}).get(addon.name)
    if annotations:
        account: dict[str, Any] = {"name": addon.name, "annotations": dict(annotations)}
        for key in reversed(SERVICE_ACCOUNT_KEYS.get(addon.name, ("serviceAccount",))):
            account = {key: account}
        values = _merge(values, account)
    return values


def dns01_solver(job: InfrastructureJob, identity: Mapping[str, str]) -> dict[str, Any]:
    """cert-manager's ``dns01`` solver for the job's DNS zone, with no credential: the
    controller's ambient identity (its service account's, ``identity`` being the annotations
    that give it) writes the challenge records. Route53: the cluster's region as the
    credential scope's hint (none when the provider has no region: an existing cluster), and
    the hosted zone's id when the spec gives it (else cert-manager finds the zone by name,
    ``ListHostedZonesByName``). Cloud DNS: the zone's project, and its managed
    zone when given (else cert-manager lists the project's zones). Azure DNS: the zone's
    subscription, resource group and name, and the managed identity's client id (from the
    workload identity annotation). :class:`InvalidInputError` for another DNS provider."""
    dns, kind = job.dns, dns_kind(job)
    if kind == "route53":
        # A provider with no region (an existing cluster) names none: cert-manager then takes
        # the region of its pod's environment (AWS_REGION, which EKS's IRSA webhook sets).
        region = getattr(job.cluster.provider, "region", "")
        route53: dict[str, Any] = {"region": region} if region else {}
        zone_id = getattr(dns, "zone_id", None)
        if zone_id:
            route53["hostedZoneID"] = str(zone_id).removeprefix("/hostedzone/")
        return {"route53": route53}
    if kind == "cloud-dns":
        cloud: dict[str, Any] = {"project": getattr(dns, "project", "")}
        managed = getattr(dns, "managed_zone", None)
        if managed:
            cloud["hostedZoneName"] = managed
        return {"cloudDNS": cloud}
    if kind == "azure-dns":
        azure: dict[str, Any] = {
            "subscriptionID": getattr(dns, "subscription_id", ""),
            "resourceGroupName": getattr(dns, "resource_group", ""),
            "hostedZoneName": getattr(dns, "zone", ""),
            "environment": "AzurePublicCloud",
        }
        client_id = identity.get(AZURE_CLIENT_ID)
        if client_id:
            azure["managedIdentity"] = {"clientID": client_id}
        return {"azureDNS": azure}
    raise InvalidInputError(
        f"cluster.addons.acme_challenge dns01: cert-manager has no DNS-01 solver with an "
        f"ambient identity for the DNS provider {kind!r}",
        hint="Use a route53, cloud-dns or azure-dns zone, or acme_challenge http01.",
    )


def _autoscaler_values(job: InfrastructureJob) -> dict[str, Any]:
    """cluster-autoscaler on the job's cluster: it finds the node groups (Auto Scaling groups)
    tagged for the cluster's name, in the cluster's region, and runs the release made for the
    cluster's Kubernetes minor version."""
    return {
        "autoDiscovery": {"clusterName": job.cluster.name},
        "awsRegion": getattr(job.cluster.provider, "region", ""),
        "image": {"tag": autoscaler_image_tag(job.cluster.kubernetes_version)},
    }


def _google_dns_values(dns: object) -> dict[str, Any]:
    """external-dns on Cloud DNS: the zone's project, which may not be the cluster's (without
    ``--google-project`` external-dns looks in the project its pod runs in), and public zones
    only (the job's zone is public; a private zone of the same name in that project is not
    its own, and its identity has no grant there)."""
    return {
        "extraArgs": {
            "google-project": getattr(dns, "project", ""),
            "google-zone-visibility": "public",
        }
    }


def _azure_dns_values(dns: object) -> dict[str, Any]:
    """external-dns on Azure DNS with AKS's workload identity: the provider's configuration
    file (which subscription and resource group hold the zone; no credential: the identity's
    client id comes from the service account's annotation, through the workload identity
    webhook) as the chart's mounted configuration, and the pod label that makes the webhook
    give the pod its federated token."""
    config = {
        "tenantId": getattr(dns, "tenant_id", ""),
        "subscriptionId": getattr(dns, "subscription_id", ""),
        "resourceGroup": getattr(dns, "resource_group", ""),
        "useWorkloadIdentityExtension": True,
    }
    return {
        "podLabels": {"azure.workload.identity/use": "true"},
        "secretConfiguration": {
            "enabled": True,
            "mountPath": "/etc/kubernetes/",
            "data": {"azure.json": json.dumps(config, sort_keys=True)},
        },
    }


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def release_marker(addon: PinnedChart, values: Mapping[str, Any]) -> str:
    """The release description that says "this is what was asked": a digest of the chart,
    its version and archive digest, and the values."""
    material = [addon.chart, addon.version, addon.digest, values]
    return "qengine-addons " + _digest(material)[:32]


class _Run:
    """One step's helm and cluster, in a private directory."""

    def __init__(
        self,
        ctx: StepContext,
        directory: Path,
        api: KubeApi,
        job: InfrastructureJob,
        settings: AddonSettings,
        freeze: Freeze,
    ) -> None:
        self.ctx = ctx
        self.directory = directory
        self.api = api
        self.job = job
        self.settings = settings
        self.namespace = freeze.namespace
        self.helm = HelmCli(ctx, directory, binary=settings.binary(), api=api)

    def fetch(self, addon: PinnedChart) -> Path:
        """The chart archive of ``addon``, its digest checked against the freeze file."""
        target = self.directory / "charts" / addon.name
        target.mkdir(parents=True, exist_ok=True)
        if addon.builtin:
            code, _ = self.helm.run("package", str(CHARTS / addon.chart), "-d", str(target))
            if code != 0:
                raise InfrastructureError(f"add-on {addon.name}: cannot package its chart")
            return next(target.glob("*.tgz"))
        if self.settings.test_charts and self.settings.freeze is None:
            code, _ = self.helm.run("package", str(TEST_CHARTS / addon.chart), "-d", str(target))
            if code != 0:
                raise InfrastructureError(f"add-on {addon.name}: cannot package its test chart")
            return next(target.glob("*.tgz"))
        source = self._pull(addon, target)
        digest = chart_digest(source)
        if addon.digest is None:
            if self.settings.require_digests:
                raise InvalidInputError(
                    f"add-on {addon.name}: the digest of {addon.chart} {addon.version} is not "
                    "recorded in the freeze file, and the engine requires recorded digests",
                    hint="Record it with `python -m qengine_addons.freeze record DIR` from the "
                    "archives `helm pull` fetched, or leave QENGINE_ADDONS_REQUIRE_DIGESTS "
                    "unset to pin it on first use (see docs/addons.md).",
                )
            check_or_pin(self.ctx, self.api, self.namespace, addon, digest)
        elif digest != addon.digest:
            raise InfrastructureError(
                f"add-on {addon.name}: the chart {addon.chart} {addon.version} fetched has "
                f"digest {digest}, not the pinned {addon.digest}",
                hint="The repository or mirror serves another archive under that version; "
                "mirror the pinned archive (docs/addons.md).",
            )
        return source

    def _pull(self, addon: PinnedChart, target: Path) -> Path:
        name = f"{addon.chart}-{addon.version}.tgz"
        if self.settings.chart_dir:
            local = Path(self.settings.chart_dir) / name
            if not local.is_file():
                raise InfrastructureError(
                    f"add-on {addon.name}: {name} is not in the chart directory",
                    hint="Put the pinned archives in the engine's add-on chart directory.",
                )
            shutil.copyfile(local, target / name)
            return target / name
        repository = self.job.cluster.addons.chart_mirror or addon.repository
        if repository.startswith("oci://"):
            args = [f"{repository.rstrip('/')}/{addon.chart}"]
            if self.settings.plain_http:
                args.append("--plain-http")
        else:
            args = [addon.chart, "--repo", repository]
        code, lines = self.helm.run(
            "pull", *args, "--version", addon.version, "-d", str(target), show=False
        )
        archives = list(target.glob("*.tgz"))
        if code != 0 or len(archives) != 1:
            raise InfrastructureError(
                f"add-on {addon.name}: cannot fetch {addon.chart} {addon.version} from "
                f"{repository}: {' / '.join(lines[-2:])}",
                hint="Check the chart source (cluster.addons.chart_mirror) holds that chart "
                "and version and is reachable from the engine.",
            )
        return archives[0]

    def write_values(self, name: str, values: Mapping[str, Any]) -> Path:
        """A values file (0600) in the step's directory."""
        return write_private_file(
            self.directory, f"{name}.values.yaml", yaml.safe_dump(dict(values)).encode()
        )

    def template_crds(self, addon: PinnedChart, archive: Path) -> list[dict[str, Any]]:
        """The CRDs the chart renders with its ``crd_values`` (``crds/`` and templates)."""
        values = _merge(addon_values(addon, self.job), addon.crd_values)
        out = self.directory / "rendered" / addon.name
        code, lines = self.helm.run(
            "template", addon.name, str(archive),
            "--namespace", self.namespace, "--include-crds",
            "-f", str(self.write_values(f"{addon.name}-crds", values)),
            "--output-dir", str(out),
            show=False,
        )  # fmt: skip
        if code != 0:
            raise InfrastructureError(
                f"add-on {addon.name}: helm template failed: {' / '.join(lines[-2:])}"
            )
        crds: list[dict[str, Any]] = []
        for path in sorted(out.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
        return crds


def _crd_path(name: str) -> str:
    return f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"


def apply_crd(api: KubeApi, crd: Mapping[str, Any]) -> bool:
    """Server-side apply ``crd`` unless the live one carries the same digest; whether it wrote."""
    name = crd["metadata"]["name"]
    digest = _digest(crd)[:32]
    try:
        live = api.request("GET", _crd_path(name))
    except NotFoundError:
        live = None
    if live and (live["metadata"].get("annotations") or {}).get(CRD_DIGEST) == digest:
        return False
    body = json.loads(json.dumps(crd))
    meta = body["metadata"]
    meta["annotations"] = {**(meta.get("annotations") or {}), CRD_DIGEST: digest}
    meta["labels"] = {**(meta.get("labels") or {}), **PART_OF}
    query = {"fieldManager": FIELD_MANAGER, "force": "true"}
    api.request("PATCH", _crd_path(name), query=query, body=body, content_type=APPLY)
    return True


def _established(api: KubeApi, name: str) -> bool:
    live = api.request("GET", _crd_path(name))
    conditions = (live.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _wait(ctx: StepContext, check: Callable[[], bool], timeout: float, interval: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        ctx.cancel.raise_if_cancelled()
        time.sleep(interval)


def webhook_services(manifest: str) -> list[tuple[str, str, str]]:
    """(webhook configuration, namespace, service) of each admission webhook in a manifest."""
    found: list[tuple[str, str, str]] = []
    for doc in yaml.safe_load_all(manifest):
        if not isinstance(doc, dict) or doc.get("kind") not in WEBHOOK_KINDS:
            continue
        for hook in doc.get("webhooks") or []:
            service = (hook.get("clientConfig") or {}).get("service")
            if service:
                found.append((hook.get("name", ""), service["namespace"], service["name"]))
    return found


def ready_endpoint(api: KubeApi, namespace: str, service: str) -> bool:
    """Whether ``service`` has at least one ready endpoint address."""
    try:
        endpoints = api.request("GET", f"/api/v1/namespaces/{namespace}/endpoints/{service}")
    except NotFoundError:
        return False
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


def _ensure_namespace(run: _Run) -> None:
    try:
        run.api.request("GET", f"/api/v1/namespaces/{run.namespace}")
    except NotFoundError:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": run.namespace}}
        try:
            run.api.request("POST", "/api/v1/namespaces", body=body)
        except ConflictError:
            return  # another step of the job made it meanwhile
        run.ctx.emit_resource_changed(ChangeAction.CREATE, "Namespace", run.namespace)


def _hint(lines: Sequence[str], timeout: int) -> str:
    text = " ".join(lines).lower()
    if "no endpoints available for service" in text or "failed calling webhook" in text:
        return (
            "An admission webhook had no ready endpoint when the chart's objects were written; "
            "the add-on it belongs to must be ready first (its needs in the freeze file)."
        )
    if "timed out" in text or "deadline exceeded" in text:
        return (
            f"Its workloads were not ready within {timeout}s: read the pods' events in the "
            "qengine-system namespace (image pulls, node room, probes)."
        )
    if "already exists" in text and "ownership" in text:
        return "An object of the chart exists outside the release; remove or adopt it."
    return "Read helm's lines above; the release was left as helm's --atomic left it."


def _install(
    run: _Run,
    addon: PinnedChart,
    values: Mapping[str, Any],
    timeout: int,
) -> dict[str, str]:
    ctx, helm, ns = run.ctx, run.helm, run.namespace
    marker = release_marker(addon, values)
    status = helm.status(addon.name, ns)
    info = (status or {}).get("info", {})
    state = info.get("status", "")
    if state == "deployed" and info.get("description") == marker:
        revision = (status or {}).get("version", "")
        ctx.emit_progress(f"add-on {addon.name}: unchanged (revision {revision})")
        return {"revision": str(revision), "changed": "false"}
    if state in PENDING:
        recover_pending(helm, addon.name, ns, int((status or {}).get("version", 1)))
        status = helm.status(addon.name, ns)
    archive = run.fetch(addon)
    values_file = run.write_values(addon.name, values)
    code, lines = helm.run(
        "upgrade", "--install", addon.name, str(archive),
        "--namespace", ns,
        "--atomic", "--wait", "--wait-for-jobs", "--timeout", f"{timeout}s",
        "--skip-crds", "--history-max", "10",
        "--description", marker,
        "-f", str(values_file),
    )  # fmt: skip
    if code != 0:
        after = helm.status(addon.name, ns)
        if after is None:
            done = "helm uninstalled its first install (--atomic)"
        else:
            done = f"helm rolled the release back to revision {after.get('version')} (--atomic)"
        raise DeploymentError(
            f"add-on {addon.name} failed ({addon.chart} {addon.version}): "
            f"{' / '.join(lines[-2:])}; {done}",
            hint=_hint(lines, timeout),
        )
    action = ChangeAction.CREATE if status is None else ChangeAction.UPDATE
    ctx.emit_resource_changed(action, "HelmRelease", addon.name)
    final = helm.status(addon.name, ns) or {}
    return {"revision": str(final.get("version", "")), "changed": "true"}


def _gate(run: _Run, addon: PinnedChart) -> None:
    code, lines = run.helm.run(
        "get", "manifest", addon.name, "--namespace", run.namespace, show=False
    )
    if code != 0:
        raise DeploymentError(f"add-on {addon.name}: cannot read its release's manifest")
    manifest = "\n".join(lines)
    _webhooks_gate(run, addon, manifest)
    _issuers_gate(run, addon, manifest)


def _webhooks_gate(run: _Run, addon: PinnedChart, manifest: str) -> None:
    for hook, namespace, service in webhook_services(manifest):
        ok = _wait(
            run.ctx,
            functools.partial(ready_endpoint, run.api, namespace, service),
            run.settings.gate_timeout,
            run.settings.poll_interval,
        )
        if not ok:
            raise DeploymentError(
                f"add-on {addon.name}: the webhook {hook} has no ready endpoint behind the "
                f"Service {namespace}/{service} after {run.settings.gate_timeout:.0f}s",
                hint="Objects it validates would be refused; read the webhook pods' events and "
                "logs in the qengine-system namespace.",
            )
        run.ctx.emit_progress(f"add-on {addon.name}: webhook {hook} is ready ({service})")


def cluster_issuers(manifest: str) -> list[str]:
    """The names of the ClusterIssuers a release's manifest declares."""
    return [
        str(doc["metadata"]["name"])
        for doc in yaml.safe_load_all(manifest)
        if isinstance(doc, dict) and doc.get("kind") == "ClusterIssuer"
    ]


def issuer_readiness(api: KubeApi, name: str) -> tuple[bool, str]:
    """Whether the ClusterIssuer ``name`` is Ready for its current generation, and what its
    ``Ready`` condition says (``reason: message``) when it is not."""
    try:
        issuer = api.request("GET", f"/apis/cert-manager.io/v1/clusterissuers/{name}")
    except NotFoundError:
        return False, "not found"
    generation = issuer["metadata"].get("generation", 1)
    for condition in (issuer.get("status") or {}).get("conditions") or []:
        if condition.get("type") != "Ready":
            continue
        if condition.get("observedGeneration", generation) != generation:
            return False, "cert-manager has not set up its current generation yet"
        if condition.get("status") == "True":
            return True, ""
        return False, f"{condition.get('reason', '')}: {condition.get('message', '')}"
    return False, "no Ready condition yet (cert-manager has not set it up)"


def _issuers_gate(run: _Run, addon: PinnedChart, manifest: str) -> None:
    names = cluster_issuers(manifest)
    if not names:
        return
    said: dict[str, str] = {}

    def all_ready() -> bool:
        for name in names:
            ready, said[name] = issuer_readiness(run.api, name)
            if not ready:
                return False
        return True

    if not _wait(run.ctx, all_ready, run.settings.gate_timeout, run.settings.poll_interval):
        waiting = "; ".join(f"{name}: {why}" for name, why in said.items() if why)
        raise DeploymentError(
            f"add-on {addon.name}: ClusterIssuers not Ready after "
            f"{run.settings.gate_timeout:.0f}s ({waiting})",
            hint="cert-manager registers an ACME account with each issuer's server: the "
            "cluster must reach it (egress to the ACME directory's host); read the issuers' "
            "conditions and cert-manager's logs in the qengine-system namespace.",
        )
    run.ctx.emit_progress(f"add-on {addon.name}: ClusterIssuers Ready ({', '.join(names)})")


def addon_steps(
    job: InfrastructureJob,
    connect: ClusterConnect,
    settings: AddonSettings | None = None,
    *,
    after: Sequence[str] = (),
    service_accounts: Mapping[str, ServiceAccountIdentity] | None = None,
) -> list[Step]:
    """The steps that bring the cluster's add-on stack to what ``job`` asks.

    ``connect`` gives a client of the job's cluster from inside a step (the cloud plugin
    builds it from its applying step's outputs and short-lived token); ``after``: the steps
    that must be done first (the cluster exists); ``service_accounts``: per add-on, the
    annotations of its service account that give it the cloud's short-lived identity, or a
    function reading them inside the add-on's step (:data:`ServiceAccountIdentity`).
    Building the steps sends no request and calls no such function. None when the job's
    ``cluster.addons.manage`` is false.
    """
    if not job.cluster.addons.manage:
        return []  # the job leaves the cluster's add-ons alone
    settings = settings or AddonSettings()
    freeze = settings.stack()
    enabled = enabled_addons(job, freeze)
    after = tuple(after)
    session = _session(job, connect, settings, freeze)

    def crds(ctx: StepContext) -> Mapping[str, str]:
        def body(run: _Run) -> dict[str, str]:
            _ensure_namespace(run)
            found: list[dict[str, Any]] = []
            for name in enabled:
                addon = freeze.get(name)
                if not addon.builtin:
                    found.extend(run.template_crds(addon, run.fetch(addon)))
            written = 0
            for crd in found:
                crd_name = crd["metadata"]["name"]
                if apply_crd(run.api, crd):
                    written += 1
                    ctx.emit_resource_changed(
                        ChangeAction.UPDATE, "CustomResourceDefinition", crd_name
                    )
                if not _wait(
                    ctx,
                    functools.partial(_established, run.api, crd_name),
                    settings.gate_timeout,
                    settings.poll_interval,
                ):
                    raise DeploymentError(f"the CRD {crd_name} is not Established")
            ctx.emit_progress(f"{len(found)} CRDs, {written} applied")
            return {"crds": str(len(found)), "applied": str(written)}

        return session(ctx, body)

    steps = [
        Step(
            id=CRDS_STEP,
            run=crds,
            depends_on=after,
            description="apply the add-ons' CRDs by server-side apply",
            changes=(Change(action=ChangeAction.UPDATE, kind="crds", name="addons"),),
            content_hash=_digest([[freeze.get(n).version, freeze.get(n).digest] for n in enabled]),
        )
    ]
    for name in enabled:
        steps.append(
            _addon_step(job, freeze.get(name), settings, session, after, service_accounts, enabled)
        )
    steps.extend(_removal_steps(job, freeze, enabled, settings, session, after))
    return steps


def uninstall_steps(
    job: InfrastructureJob,
    connect: ClusterConnect,
    settings: AddonSettings | None = None,
    *,
    after: Sequence[str] = (),
) -> list[Step]:
    """The steps that uninstall every add-on release of the stack (``addons.remove.<name>``,
    dependents first), for a ``delete`` that leaves the cluster itself: an engine of a
    cluster qengine does not own. As for an add-on turned off, the CRDs stay (with every
    custom resource of their kinds), and so do the namespace and the pins' ConfigMap. None
    when the job's ``cluster.addons.manage`` is false."""
    if not job.cluster.addons.manage:
        return []
    settings = settings or AddonSettings()
    freeze = settings.stack()
    session = _session(job, connect, settings, freeze)
    return _removal_steps(job, freeze, (), settings, session, tuple(after))


_Session: TypeAlias = Callable[[StepContext, Callable[[_Run], dict[str, str]]], dict[str, str]]


def _session(
    job: InfrastructureJob, connect: ClusterConnect, settings: AddonSettings, freeze: Freeze
) -> _Session:
    """Run a step's body with the cluster's client in a private directory."""

    def session(ctx: StepContext, body: Callable[[_Run], dict[str, str]]) -> dict[str, str]:
        api = connect(ctx)
        with private_tempdir(job.id) as directory:
            return body(_Run(ctx, directory, api, job, settings, freeze))

    return session


def _addon_step(
    job: InfrastructureJob,
    addon: PinnedChart,
    settings: AddonSettings,
    session: _Session,
    after: tuple[str, ...],
    service_accounts: Mapping[str, ServiceAccountIdentity] | None,
    enabled: Sequence[str],
) -> Step:
    read = (addon.name, *READS_IDENTITY_OF.get(addon.name, ()))
    identities = {n: i for n in read if (i := (service_accounts or {}).get(n)) is not None}
    fixed = {n: i for n, i in identities.items() if isinstance(i, Mapping)}
    resolve = {n: i for n, i in identities.items() if not isinstance(i, Mapping)}
    values = addon_values(addon, job, fixed)
    timeout = settings.timeout or addon.timeout

    def run(ctx: StepContext) -> Mapping[str, str]:
        installed = values
        if resolve:
            read_now = {n: function(ctx) for n, function in resolve.items()}
            installed = addon_values(addon, job, {**fixed, **read_now})

        def body(r: _Run) -> dict[str, str]:
            _ensure_namespace(r)
            outputs = _install(r, addon, installed, timeout)
            _gate(r, addon)
            return outputs

        return session(ctx, body)

    return Step(
        id=f"addons.{addon.name}",
        run=run,
        # A need the job turns off is not waited for (the issuers need no ingress controller
        # when they solve DNS-01).
        depends_on=(*after, CRDS_STEP, *(f"addons.{n}" for n in addon.needs if n in enabled)),
        description=f"helm release {addon.name} ({addon.chart} {addon.version})",
        changes=(Change(action=ChangeAction.UPDATE, kind="helm-release", name=addon.name),),
        # An identity read at step time is not in the plan's values: the hash says only that
        # there is one (the release's marker, made from the values installed, holds it).
        content_hash=release_marker(addon, values) + (" +identity" if resolve else ""),
        timeout=float(timeout) * 3 + settings.gate_timeout,
    )


def _removal_steps(
    job: InfrastructureJob,
    freeze: Freeze,
    enabled: Sequence[str],
    settings: AddonSettings,
    session: _Session,
    after: tuple[str, ...],
) -> list[Step]:
    removed = [a for a in freeze.addons if a.name not in enabled]
    steps: list[Step] = []
    for addon in removed:
        # Dependents go first: an add-on is removed after every removed add-on needing it.
        dependents = [
            f"addons.remove.{other.name}" for other in removed if addon.name in other.needs
        ]

        def run(ctx: StepContext, addon: PinnedChart = addon) -> Mapping[str, str]:
            def body(r: _Run) -> dict[str, str]:
                if r.helm.status(addon.name, r.namespace) is None:
                    return {"removed": "false"}
                code, lines = r.helm.run(
                    "uninstall", addon.name, "--namespace", r.namespace, "--wait",
                    "--timeout", f"{settings.timeout or addon.timeout}s",
                )  # fmt: skip
                if code != 0:
                    raise DeploymentError(
                        f"add-on {addon.name}: helm uninstall failed: {' / '.join(lines[-2:])}",
                        hint="Read helm's lines above; run it again or uninstall it by hand.",
                    )
                ctx.emit_resource_changed(ChangeAction.DELETE, "HelmRelease", addon.name)
                return {"removed": "true"}

            return session(ctx, body)

        steps.append(
            Step(
                id=f"addons.remove.{addon.name}",
                run=run,
                depends_on=(*after, *dependents),
                description=f"uninstall the add-on {addon.name} when present (its CRDs stay)",
                changes=(Change(action=ChangeAction.DELETE, kind="helm-release", name=addon.name),),
            )
        )
    return steps


def cluster_client(endpoint: str, ca_pem: str, token: str) -> KubeApi:
    """A client of the cluster at ``endpoint`` (HTTPS, its CA as PEM, a bearer token), for a
    cloud plugin's ``connect``; nothing is sent until it is used."""
    from qengine_kubernetes.access import connect
    from qengine_kubernetes.settings import KubeSettings
    from qengine_kubernetes.spec import SandboxTarget

    settings = KubeSettings(endpoint=endpoint, ca_pem=ca_pem, token=token)
    return connect(SandboxTarget(kind="sandbox"), settings)

"""Offline checks of a job on an ``existing`` cluster, each naming its spec path.

qengine does not own such a cluster's nodes (no pause, no resume, no cluster-autoscaler: its
node groups are whatever made the cluster's business) and makes no cloud identity for it (an
add-on that calls a cloud API needs the annotations of one the user made). Every other field
of ``cluster.addons`` is checked by the core, as on the clouds.
"""

from __future__ import annotations

from collections.abc import Iterator

from qengine.plugin import SpecIssue
from qengine.spec import InfraAction, InfrastructureJob
from qengine_addons.existing import ExistingCluster
from qengine_addons.flags import (
    DNS01_KINDS,
    DNS_PROVIDERS,
    FLAGS,
    addon_enabled,
    dns01_wanted,
    dns_kind,
)

PROVIDER = "$.cluster.provider"
#: The add-ons that may be given a service account's annotations.
ADDON_NAMES = frozenset(name for names in FLAGS.values() for name in names)


def check_job(job: InfrastructureJob) -> list[SpecIssue]:
    """The problems of an infrastructure job whose provider is ``existing``."""
    section = job.cluster.provider
    if not isinstance(section, ExistingCluster):
        return []
    return [*_action_issues(job), *_access_issues(section), *_addon_issues(job, section)]


def _action_issues(job: InfrastructureJob) -> Iterator[SpecIssue]:
    if job.action in (InfraAction.PAUSE, InfraAction.RESUME):
        yield SpecIssue(
            "$.action",
            f"is {job.action.value}, which an existing cluster does not offer: qengine did not "
            "create its nodes and does not scale them (use create, upgrade or delete)",
        )
    if job.cluster.addons.autoscaler is not None:
        yield SpecIssue(
            "$.cluster.addons.autoscaler",
            "is not offered on an existing cluster: qengine does not own its node groups "
            "(install an autoscaler with whatever made the cluster); remove this field",
        )


def _access_issues(section: ExistingCluster) -> Iterator[SpecIssue]:
    if section.in_cluster and (section.kubeconfig is not None or section.context is not None):
        yield SpecIssue(
            f"{PROVIDER}.in_cluster",
            "is true, which reaches the cluster through the pod's service account: give no "
            "kubeconfig or context with it",
        )
    for name in sorted(section.service_accounts):
        if name not in ADDON_NAMES:
            yield SpecIssue(
                f"{PROVIDER}.service_accounts.{name}",
                f"is not an add-on of the stack (one of {', '.join(sorted(ADDON_NAMES))})",
            )


def _addon_issues(job: InfrastructureJob, section: ExistingCluster) -> Iterator[SpecIssue]:
    zone_kind = dns_kind(job)
    given = {name for name, annotations in section.service_accounts.items() if annotations}
    cloud_dns = zone_kind in DNS_PROVIDERS
    if addon_enabled(job, "external-dns") and cloud_dns and "external-dns" not in given:
        yield SpecIssue(
            f"{PROVIDER}.service_accounts.external-dns",
            f"is required: external-dns writes records in a {zone_kind} zone with a cloud "
            "identity, and qengine makes none on an existing cluster; give the annotations "
            "of one you made (or set cluster.addons.external_dns to false)",
        )
    if not dns01_wanted(job):
        return
    if zone_kind not in DNS01_KINDS:
        yield SpecIssue(
            "$.cluster.addons.acme_challenge",
            f"is dns01 with a {zone_kind} zone: cert-manager solves DNS-01 with an ambient "
            f"identity in {', '.join(sorted(DNS01_KINDS))} zones only",
        )
    elif "cert-manager" not in given:
        yield SpecIssue(
            f"{PROVIDER}.service_accounts.cert-manager",
            "is required: with acme_challenge dns01, cert-manager writes the challenge records "
            f"in the {zone_kind} zone with a cloud identity, and qengine makes none on an "
            "existing cluster; give the annotations of one you made",
        )

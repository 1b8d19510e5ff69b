"""The ``existing`` provider section: a cluster qengine did not create, for its add-on stack.

A platform's own cluster (kind, k3s, on premises, a cloud cluster made by other means): an
infrastructure job with this provider installs, upgrades and uninstalls the add-on stack on
it, and never touches the cluster itself (see docs/addons.md, "Existing clusters").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from qengine.spec import ProviderSpec


@attrs.frozen(kw_only=True)
class ExistingCluster(ProviderSpec):
    """A cluster qengine did not create: qengine installs and upgrades its add-on stack only.

    The cluster is reached through a kubeconfig file on the engine's machine (``kubeconfig``
    and ``context``), or, with ``in_cluster``, through the service account of the pod the
    engine runs in. qengine makes no cloud identity here: an add-on that calls a cloud API
    (external-dns on a cloud DNS zone, cert-manager solving ACME DNS-01) gets the one you made
    through ``service_accounts``.

    :ivar kubeconfig: The kubeconfig file; unset, the host's ``KUBECONFIG`` or
        ``~/.kube/config``.
    :ivar context: The kubeconfig's context to use; unset, the file's current context.
    :ivar in_cluster: Reach the cluster the engine runs in, through its pod's service account
        (no ``kubeconfig`` or ``context`` then).
    :ivar service_accounts: Per add-on (``external-dns``, ``cert-manager``, ...), the
        annotations of its service account that give it a cloud identity you made, such as
        ``{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/external-dns"}``
        (IRSA) or ``{"iam.gke.io/gcp-service-account": "..."}``; the identity must trust the
        subject ``system:serviceaccount:qengine-system:<add-on>``.
    """

    kind: Literal["existing"]
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    service_accounts: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)

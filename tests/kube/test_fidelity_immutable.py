"""Fidelity: fields the Kubernetes API declares immutable are refused on update.

Reference: Kubernetes 1.31, ``pkg/apis/*/validation`` (``ValidateImmutableField`` words the
error ``field is immutable``) and the registry strategies (the ``apps/v1`` workloads'
``spec.selector``). Each refusal is ``422 Invalid`` with a ``Status`` whose cause names the
field, on every way of updating an object: PUT (``kubectl replace``), JSON, merge and
strategic merge patches, server-side apply, and dry runs of them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw, get

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
STS = "/apis/apps/v1/namespaces/default/statefulsets"
SVCS = "/api/v1/namespaces/default/services"
CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"
PODS = "/api/v1/namespaces/default/pods"
JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

SELECTOR_IMMUTABLE = (
    'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
    'v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, '
    "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
)


def deployment(app: str = "web", image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def job(image: str = "busybox:1.36", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": image}],
                }
            },
        },
    }


def statefulset(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "main", "image": "postgres:16"}]},
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": body,
    }


def created(raw: Raw, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, obj, _ = raw.request("POST", path, body)
    assert status == 201, obj
    return obj  # type: ignore[no-any-return]


def refused(response: tuple[int, Any, dict[str, str]], field: str) -> dict[str, Any]:
    """The 422 Invalid Status of a refused update, checked to name ``field``."""
    status, body, _ = response
    assert status == 422, body
    assert body["kind"] == "Status", body
    assert body["reason"] == "Invalid", body
    assert field in [c["field"] for c in body["details"]["causes"]], body
    return body  # type: ignore[no-any-return]


# -- Deployments, ReplicaSets, DaemonSets ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        (
            JSON_PATCH,
            [{"op": "replace", "path": "/spec/selector/matchLabels/app", "value": "other"}],
        ),
        (MERGE, {"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
        (STRATEGIC, {"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
    ],
    ids=["json-patch", "merge-patch", "strategic-merge-patch"],
)
def test_deployment_selector_is_immutable_for_every_patch_type(
    raw: Raw, sim: KubeSimulator, content_type: str, patch: Any
) -> None:
    """apps/v1 Deployment strategy: ``ValidateImmutableField(spec.selector)``; the value is
    printed as Go prints the LabelSelector struct. The template labels follow the selector,
    so only immutability refuses the change."""
    created(raw, DEPLOYS, deployment())
    if content_type == JSON_PATCH:
        patch = [
            *patch,
            {"op": "replace", "path": "/spec/template/metadata/labels/app", "value": "other"},
        ]
    else:
        patch["spec"]["template"] = {"metadata": {"labels": {"app": "other"}}}
    body = refused(
        raw.request("PATCH", DEPLOYS + "/web", patch, content_type=content_type), "spec.selector"
    )
    assert body["message"] == SELECTOR_IMMUTABLE
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.selector",
            "message": SELECTOR_IMMUTABLE.split("spec.selector: ", 1)[1],
        }
    ]
    assert get(sim, "deployments.apps", "default", "web")["spec"]["selector"] == {
        "matchLabels": {"app": "web"}
    }


def test_deployment_selector_change_refused_by_kubectl_apply_replace_and_server_side(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    """The same refusal through the real kubectl: client-side apply (a patch), replace (a
    PUT) and server-side apply; kubectl prints the server's message."""
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(deployment()))
    kubectl.run("apply", "-f", str(manifest))
    manifest.write_text(json.dumps(deployment(app="other")))
    for args in (
        ("apply", "-f", str(manifest)),
        ("replace", "-f", str(manifest)),
        ("apply", "--server-side", "--force-conflicts", "-f", str(manifest)),
    ):
        proc = kubectl.run(*args, check=False)
        assert proc.returncode != 0, args
        assert "spec.selector: Invalid value: v1.LabelSelector{" in proc.stderr, proc.stderr
        assert "field is immutable" in proc.stderr
    # What may change still does: the image.
    manifest.write_text(json.dumps(deployment(image="nginx:1.26")))
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(manifest))


def test_replicaset_and_daemonset_selectors_are_immutable(raw: Raw) -> None:
    """The ReplicaSet and DaemonSet strategies refuse a new selector like Deployments'."""
    for plural, kind in (("replicasets", "ReplicaSet"), ("daemonsets", "DaemonSet")):
        path = f"/apis/apps/v1/namespaces/default/{plural}"
        body = dict(deployment(), kind=kind)
        created(raw, path, body)
        patch = {
            "spec": {
                "selector": {"matchLabels": {"app": "other"}},
                "template": {"metadata": {"labels": {"app": "other"}}},
            }
        }
        answer = refused(
            raw.request("PATCH", path + "/web", patch, content_type=MERGE), "spec.selector"
        )
        assert answer["message"].startswith(f'{kind}.apps "web" is invalid: spec.selector:')


def test_dry_run_update_is_refused_too(raw: Raw) -> None:
    """Validation runs before the dry-run decision: ``dryRun=All`` gets the same 422."""
    created(raw, DEPLOYS, deployment())
    answer = raw.request("PUT", DEPLOYS + "/web?dryRun=All", deployment(app="other"))
    assert refused(answer, "spec.selector")["message"] == SELECTOR_IMMUTABLE


def test_official_client_replace_gets_the_invalid_status(k8s: Any, raw: Raw) -> None:
    """The official client raises ApiException 422 whose body is the Status."""
    from kubernetes import client

    created(raw, DEPLOYS, deployment())
    apps = client.AppsV1Api(k8s)
    with pytest.raises(client.ApiException) as caught:
        apps.replace_namespaced_deployment("web", "default", deployment(app="other"))
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.selector"


# -- Jobs ------------------------------------------------------------------------------------


def test_job_template_image_change_by_json_patch_is_refused(raw: Raw, sim: KubeSimulator) -> None:
    """The issue's example: ``ValidateJobSpecUpdate`` keeps ``spec.template`` immutable."""
    created(raw, JOBS, job())
    patch = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "busybox:2"}
    ]
    body = refused(
        raw.request("PATCH", JOBS + "/once", patch, content_type=JSON_PATCH), "spec.template"
    )
    cause = body["details"]["causes"][0]
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"].startswith("Invalid value: core.PodTemplateSpec{")
    assert cause["message"].endswith(": field is immutable")
    stored = get(sim, "jobs.batch", "default", "once")
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"


def test_job_selector_and_completions_are_immutable_but_parallelism_is_not(raw: Raw) -> None:
    """``spec.selector`` and, for a NonIndexed Job, ``spec.completions`` are immutable
    (the value printed as Go prints an int); ``parallelism`` may change."""
    created(raw, JOBS, job())
    body = refused(
        raw.request("PATCH", JOBS + "/once", {"spec": {"completions": 3}}, content_type=MERGE),
        "spec.completions",
    )
    assert body["message"] == (
        'Job.batch "once" is invalid: spec.completions: Invalid value: 3: field is immutable'
    )
    refused(
        raw.request(
            "PATCH",
            JOBS + "/once",
            {"spec": {"selector": {"matchLabels": {"x": "y"}}}},
            content_type=MERGE,
        ),
        "spec.selector",
    )
    status, _, _ = raw.request(
        "PATCH", JOBS + "/once", {"spec": {"parallelism": 2}}, content_type=MERGE
    )
    assert status == 200


def test_suspended_job_that_never_started_may_change_scheduling_directives() -> None:
    """A suspended Job that has not started (no ``status.startTime``) may change its
    template's node selector, tolerations, labels and annotations
    (JobMutableNodeSchedulingDirectives, GA), not the rest of it. Controllers are off: only
    the API's rule is under test."""
    with KubeSimulator(controllers=False) as quiet:
        _suspended_job_changes(Raw(quiet))


def _suspended_job_changes(raw: Raw) -> None:
    created(raw, JOBS, job(suspend=True))
    scheduling = {
        "spec": {
            "template": {
                "metadata": {"labels": {"tier": "batch"}},
                "spec": {"nodeSelector": {"disk": "ssd"}},
            }
        }
    }
    status, body, _ = raw.request("PATCH", JOBS + "/once", scheduling, content_type=STRATEGIC)
    assert status == 200, body
    image = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x:2"}]}}}}
    refused(raw.request("PATCH", JOBS + "/once", image, content_type=STRATEGIC), "spec.template")


def test_kubectl_replace_of_a_job_from_its_manifest_is_refused(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    """A Job's manifest has no server-generated selector and labels; replacing the Job with
    it (a PUT) changes both, which a real server refuses (the well-known ``kubectl replace``
    failure on Jobs)."""
    manifest = tmp_path / "job.json"
    manifest.write_text(json.dumps(job()))
    kubectl.run("create", "-f", str(manifest))
    proc = kubectl.run("replace", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert "field is immutable" in proc.stderr, proc.stderr


# -- StatefulSets ----------------------------------------------------------------------------

STATEFULSET_MESSAGE = (
    'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for '
    "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)


@pytest.mark.parametrize(
    "change",
    [
        {"serviceName": "other"},
        {"podManagementPolicy": "Parallel"},
        {"revisionHistoryLimit": 3},
        {
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "2Gi"}},
                    },
                }
            ]
        },
    ],
    ids=["serviceName", "podManagementPolicy", "revisionHistoryLimit", "volumeClaimTemplates"],
)
def test_statefulset_spec_changes_other_than_the_allowed_ones_are_forbidden(
    raw: Raw, change: dict[str, Any]
) -> None:
    """``ValidateStatefulSetUpdate``: one Forbidden error on ``spec``, worded as 1.31 does."""
    created(raw, STS, statefulset())
    body = refused(raw.request("PATCH", STS + "/db", {"spec": change}, content_type=MERGE), "spec")
    assert body["message"] == STATEFULSET_MESSAGE
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"


def test_statefulset_allowed_changes_pass(raw: Raw) -> None:
    """replicas, template, updateStrategy, minReadySeconds and the PVC retention policy may
    change (one server-side apply changing all of them), unless the same apply also changes
    a field outside that list."""
    created(raw, STS, statefulset())
    changed = statefulset(
        replicas=2,
        minReadySeconds=5,
        updateStrategy={"type": "OnDelete"},
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"},
    )
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    with_service = json.loads(json.dumps(changed))
    with_service["spec"]["serviceName"] = "other"
    answer = raw.request(
        "PATCH", STS + "/db?fieldManager=me&force=true", with_service, content_type=APPLY
    )
    assert refused(answer, "spec")["message"] == STATEFULSET_MESSAGE
    status, body, _ = raw.request(
        "PATCH", STS + "/db?fieldManager=me&force=true", changed, content_type=APPLY
    )
    assert status == 200, body


def test_statefulset_volume_claim_templates_change_by_server_side_apply(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    """kubectl apply --server-side of a StatefulSet whose claim template grew: refused with
    the message Helm and kubectl users meet on real clusters."""
    manifest = tmp_path / "db.json"
    manifest.write_text(json.dumps(statefulset()))
    kubectl.run("apply", "--server-side", "-f", str(manifest))
    bigger = statefulset()
    bigger["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "5Gi"
    manifest.write_text(json.dumps(bigger))
    proc = kubectl.run("apply", "--server-side", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert STATEFULSET_MESSAGE.split(" is invalid: ")[1] in proc.stderr, proc.stderr


# -- Services --------------------------------------------------------------------------------


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def test_service_cluster_ip_may_not_change_once_set(raw: Raw) -> None:
    """``validateUpgradeDowngradeClusterIPs``: ``spec.clusterIPs[0]: Invalid value:
    []string{...}: may not change once set``."""
    svc = created(raw, SVCS, service())
    ip = svc["spec"]["clusterIP"]
    new_ip = "10.96.200.200"
    body = refused(
        raw.request(
            "PATCH",
            SVCS + "/web",
            {"spec": {"clusterIP": new_ip, "clusterIPs": [new_ip]}},
            content_type=MERGE,
        ),
        "spec.clusterIPs[0]",
    )
    assert body["message"] == (
        f'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{{"{new_ip}"}}: '
        "may not change once set"
    )
    assert raw.get(SVCS + "/web")["spec"]["clusterIP"] == ip


def test_service_update_without_cluster_ip_keeps_the_allocated_one(raw: Raw) -> None:
    """The registry fills in the allocated IPs when an update leaves them empty (a PUT of
    the manifest, or ``clusterIP: ""``): no error, the IP stays."""
    ip = created(raw, SVCS, service())["spec"]["clusterIP"]
    for body in (service(), service(clusterIP="")):
        current = raw.get(SVCS + "/web")
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        status, updated, _ = raw.request("PUT", SVCS + "/web", body)
        assert status == 200, updated
        assert updated["spec"]["clusterIP"] == ip
        assert updated["spec"]["clusterIPs"] == [ip]


def test_headless_service_may_not_get_a_cluster_ip(raw: Raw) -> None:
    """A headless Service's ``None`` is its cluster IP: changing it to an address is a
    change of ``clusterIPs[0]``."""
    created(raw, SVCS, service(clusterIP="None"))
    patch = {"spec": {"clusterIP": "10.96.200.201", "clusterIPs": ["10.96.200.201"]}}
    refused(raw.request("PATCH", SVCS + "/web", patch, content_type=MERGE), "spec.clusterIPs[0]")


# -- ConfigMaps and Secrets ------------------------------------------------------------------


def test_immutable_configmap_refuses_data_changes_and_unsetting_immutable(
    raw: Raw, kubectl: Kubectl, tmp_path: Path
) -> None:
    """``ValidateConfigMapUpdate``: with ``immutable: true``, ``data``, ``binaryData`` and
    ``immutable`` are Forbidden (``field is immutable when `immutable` is set``)."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "frozen"},
        "data": {"mode": "a"},
        "immutable": True,
    }
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps(cm))
    kubectl.run("apply", "-f", str(manifest))
    manifest.write_text(json.dumps(dict(cm, data={"mode": "b"})))
    proc = kubectl.run("apply", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert (
        'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when '
        "`immutable` is set"
    ) in proc.stderr, proc.stderr
    body = refused(
        raw.request("PATCH", CMS + "/frozen", {"immutable": False}, content_type=MERGE),
        "immutable",
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "immutable",
            "message": "Forbidden: field is immutable when `immutable` is set",
        }
    ]
    refused(
        raw.request("PATCH", CMS + "/frozen", {"binaryData": {"b": "AAA="}}, content_type=MERGE),
        "binaryData",
    )
    # Metadata still changes.
    status, _, _ = raw.request(
        "PATCH", CMS + "/frozen", {"metadata": {"labels": {"x": "y"}}}, content_type=MERGE
    )
    assert status == 200


def test_secret_type_is_immutable_and_immutable_secret_data_too(raw: Raw) -> None:
    """``ValidateSecretUpdate``: ``type`` is immutable (a PUT without it defaults it to
    Opaque, which changes it); an immutable Secret's data may not change, ``stringData``
    included (it is folded into ``data`` first)."""
    tls = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    }
    created(raw, SECRETS, tls)
    untyped = {k: v for k, v in tls.items() if k != "type"}
    body = refused(raw.request("PUT", SECRETS + "/tls", untyped), "type")
    assert body["message"] == (
        'Secret "tls" is invalid: type: Invalid value: "Opaque": field is immutable'
    )
    frozen = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "frozen"},
        "stringData": {"password": "one"},
        "immutable": True,
    }
    created(raw, SECRETS, frozen)
    body = refused(
        raw.request(
            "PATCH", SECRETS + "/frozen", {"stringData": {"password": "two"}}, content_type=MERGE
        ),
        "data",
    )
    assert body["details"]["causes"][0]["message"] == (
        "Forbidden: field is immutable when `immutable` is set"
    )


# -- PersistentVolumeClaims ------------------------------------------------------------------


def claim(storage: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage}},
            **spec,
        },
    }


def bound_claim(raw: Raw, sim: KubeSimulator) -> None:
    created(raw, PVCS, claim())
    deadline = time.monotonic() + 10
    while (
        get(sim, "persistentvolumeclaims", "default", "data").get("status", {}).get("phase")
        != "Bound"
    ):
        assert time.monotonic() < deadline, "the claim was not bound"
        time.sleep(0.05)


def test_bound_claim_may_grow_but_not_shrink(raw: Raw, sim: KubeSimulator) -> None:
    """``ValidatePersistentVolumeClaimUpdate``: a bound claim's storage request may grow;
    less than before is ``Forbidden: field can not be less than previous value`` (1.31:
    RecoverVolumeExpansionFailure is off). Quantities compare by value."""
    bound_claim(raw, sim)
    grow = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    status, body, _ = raw.request("PATCH", PVCS + "/data", grow, content_type=MERGE)
    assert status == 200, body
    same = {"spec": {"resources": {"requests": {"storage": "2048Mi"}}}}
    status, body, _ = raw.request("PATCH", PVCS + "/data", same, content_type=MERGE)
    assert status == 200, body
    shrink = {"spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    body = refused(
        raw.request("PATCH", PVCS + "/data", shrink, content_type=MERGE),
        "spec.resources.requests.storage",
    )
    assert body["message"] == (
        'PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: '
        "Forbidden: field can not be less than previous value"
    )


def test_claim_spec_is_otherwise_immutable(raw: Raw, sim: KubeSimulator) -> None:
    """Anything else in a claim's spec: ``spec: Forbidden: spec is immutable after creation
    except resources.requests and volumeAttributesClassName for bound claims`` followed by
    a diff."""
    bound_claim(raw, sim)
    for patch in (
        {"spec": {"storageClassName": "fast"}},
        {"spec": {"accessModes": ["ReadWriteMany"]}},
    ):
        body = refused(raw.request("PATCH", PVCS + "/data", patch, content_type=MERGE), "spec")
        first_line = body["details"]["causes"][0]["message"].splitlines()[0]
        assert first_line == (
            "Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims"
        )


# -- Pods ------------------------------------------------------------------------------------


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}], **spec},
    }


POD_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)


def test_pod_image_may_change_but_not_the_rest_of_its_spec(raw: Raw, kubectl: Kubectl) -> None:
    """``ValidatePodUpdate``: the image may change (``kubectl set image``); a command may
    not (the 1.31 list of updatable fields, then a diff); no container may be added."""
    created(raw, PODS, pod())
    kubectl.run("set", "image", "pod/p", "main=nginx:1.26")
    assert raw.get(PODS + "/p")["spec"]["containers"][0]["image"] == "nginx:1.26"
    command = {"spec": {"containers": [{"name": "main", "command": ["sleep", "1"]}]}}
    body = refused(raw.request("PATCH", PODS + "/p", command, content_type=STRATEGIC), "spec")
    assert body["details"]["causes"][0]["message"].splitlines()[0] == POD_FORBIDDEN
    added = {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}
    body = refused(
        raw.request("PATCH", PODS + "/p", added, content_type=STRATEGIC), "spec.containers"
    )
    assert body["message"] == (
        'Pod "p" is invalid: spec.containers: Forbidden: pod updates may not add or remove '
        "containers"
    )


def test_pod_tolerations_may_only_be_added_and_deadline_only_lowered(raw: Raw) -> None:
    """Tolerations: additions only (``existing toleration can not be modified except its
    tolerationSeconds``); ``activeDeadlineSeconds``: set, or lowered, never raised."""
    toleration = {"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}
    created(raw, PODS, pod(tolerations=[toleration], activeDeadlineSeconds=600))
    more = {
        "spec": {
            "tolerations": [
                dict(toleration, tolerationSeconds=30),
                {"key": "b", "operator": "Exists"},
            ]
        }
    }
    status, body, _ = raw.request("PATCH", PODS + "/p", more, content_type=MERGE)
    assert status == 200, body
    fewer = {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}
    body = refused(raw.request("PATCH", PODS + "/p", fewer, content_type=MERGE), "spec.tolerations")
    assert body["details"]["causes"][0]["message"] == (
        "Forbidden: existing toleration can not be modified except its tolerationSeconds"
    )
    status, _, _ = raw.request(
        "PATCH", PODS + "/p", {"spec": {"activeDeadlineSeconds": 300}}, content_type=MERGE
    )
    assert status == 200
    body = refused(
        raw.request(
            "PATCH", PODS + "/p", {"spec": {"activeDeadlineSeconds": 900}}, content_type=MERGE
        ),
        "spec.activeDeadlineSeconds",
    )
    assert body["details"]["causes"][0]["message"] == (
        "Invalid value: 900: must be less than or equal to previous value"
    )


# -- the rest --------------------------------------------------------------------------------


def test_rolebinding_role_ref_cannot_change(raw: Raw) -> None:
    """``ValidateRoleBindingUpdate``: ``roleRef: Invalid value: rbac.RoleRef{...}: cannot
    change roleRef``."""
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
    }
    created(raw, path, binding)
    patch = {"roleRef": {"name": "edit"}}
    body = refused(raw.request("PATCH", path + "/b", patch, content_type=MERGE), "roleRef")
    assert body["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef"
    )


def test_storage_class_parameters_and_provisioner_are_forbidden(raw: Raw) -> None:
    """``ValidateStorageClassUpdate``: parameters, provisioner, reclaimPolicy (Forbidden)
    and volumeBindingMode (immutable); other fields (labels, allowVolumeExpansion) may."""
    path = "/apis/storage.k8s.io/v1/storageclasses"
    created(
        raw,
        path,
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "example.com/disk",
            "parameters": {"type": "ssd"},
        },
    )
    body = refused(
        raw.request("PATCH", path + "/fast", {"parameters": {"type": "hdd"}}, content_type=MERGE),
        "parameters",
    )
    assert (
        body["details"]["causes"][0]["message"] == "Forbidden: updates to parameters are forbidden."
    )
    refused(
        raw.request("PATCH", path + "/fast", {"provisioner": "other"}, content_type=MERGE),
        "provisioner",
    )
    status, _, _ = raw.request(
        "PATCH", path + "/fast", {"allowVolumeExpansion": True}, content_type=MERGE
    )
    assert status == 200


def test_crd_group_and_names_are_immutable(raw: Raw) -> None:
    """``validateCustomResourceDefinitionSpecUpdate``: ``spec.group`` and
    ``spec.names.plural`` always; ``spec.scope`` once the CRD is established."""
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    created(
        raw,
        path,
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
            },
        },
    )
    body = refused(
        raw.request(
            "PATCH",
            path + "/gadgets.example.com",
            {"spec": {"scope": "Cluster"}},
            content_type=MERGE,
        ),
        "spec.scope",
    )
    assert body["details"]["causes"][0]["message"] == 'Invalid value: "Cluster": field is immutable'


def test_an_object_cannot_move_to_another_namespace(raw: Raw) -> None:
    """``rest.BeforeUpdate``: an update whose object names another namespace than the URL is
    ``400 BadRequest``, by PUT, patch or apply."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    created(raw, CMS, cm)
    moved = dict(cm, metadata={"name": "c", "namespace": "kube-system"})
    message = (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    for method, body, content_type in (
        ("PUT", moved, "application/json"),
        ("PATCH", {"metadata": {"namespace": "kube-system"}}, MERGE),
        ("PATCH", moved, APPLY),
    ):
        path = CMS + "/c" + ("?fieldManager=me" if content_type == APPLY else "")
        status, body, _ = raw.request(method, path, body, content_type=content_type)
        assert status == 400, body
        assert body["message"] == message


def test_namespace_finalizers_change_only_through_finalize(raw: Raw) -> None:
    """The Namespace strategy keeps ``spec.finalizers`` on update (only the ``finalize``
    subresource changes them): the update succeeds and leaves them as they were."""
    created(
        raw,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    )
    status, updated, _ = raw.request(
        "PATCH", "/api/v1/namespaces/team", {"spec": {"finalizers": []}}, content_type=MERGE
    )
    assert status == 200, updated
    assert updated["spec"]["finalizers"] == ["kubernetes"]

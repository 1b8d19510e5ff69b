"""The EKS blueprint's structure: documented module inputs only, address plan, node groups."""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.blueprint import BlueprintOptions, eks_root_module
from qengine_aws.modules import EKS, VPC, pinned
from qengine_aws.network import plan_subnets

from qengine import load_plugins
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
_MODULE_REFERENCE = re.compile(r"module\.([a-z_]+)\.([a-z_]+)")


def _job(change: Any = None, *, document_change: Any = None) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    if change is not None:
        change(document["cluster"]["provider"])
    if document_change is not None:
        document_change(document)
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_modules_are_pinned_to_exact_versions() -> None:
    root = eks_root_module(_job())
    for name, source in (("vpc", VPC), ("eks", EKS)):
        block = root["module"][name]
        assert block["source"] == source
        assert re.fullmatch(r"\d+\.\d+\.\d+", block["version"])
        assert block["version"] == pinned(source).version


@pytest.mark.parametrize(("name", "source"), [("vpc", VPC), ("eks", EKS)])
def test_blueprint_sets_only_documented_module_inputs(name: str, source: str) -> None:
    module = pinned(source)
    block = eks_root_module(_job())["module"][name]
    unknown = set(block) - {"source", "version"} - module.inputs
    assert not unknown, f"{name} inputs not in modules.json: {unknown}"


def test_nested_node_group_addon_and_encryption_attributes_are_documented() -> None:
    module = pinned(EKS)
    block = eks_root_module(_job(), BlueprintOptions(node_version="1.31"))["module"]["eks"]
    for group in block["eks_managed_node_groups"].values():
        assert set(group) <= module.nested["eks_managed_node_groups.*"]
    for addon in block["addons"].values():
        assert set(addon) <= module.nested["addons.*"]
    assert set(block["encryption_config"]) <= module.nested["encryption_config"]


def test_blueprint_reads_only_documented_module_outputs() -> None:
    root = eks_root_module(_job())
    outputs = {"vpc": pinned(VPC).outputs, "eks": pinned(EKS).outputs}
    seen = set()
    for text in _strings(root):
        for module, output in _MODULE_REFERENCE.findall(text):
            assert output in outputs[module], f"module.{module}.{output} is not documented"
            seen.add((module, output))
    assert ("eks", "cluster_endpoint") in seen
    assert ("vpc", "private_subnets") in seen


def test_a_misspelt_input_would_be_caught() -> None:
    assert "cluster_version" not in pinned(EKS).inputs  # renamed to kubernetes_version in v21
    assert "kubernetes_version" in pinned(EKS).inputs


@pytest.mark.parametrize(
    ("cidr", "zones"), [("10.40.0.0/16", 3), ("10.0.0.0/24", 2), ("172.16.0.0/20", 6)]
)
def test_subnets_are_inside_the_vpc_and_do_not_overlap(cidr: str, zones: int) -> None:
    plan = plan_subnets(cidr, zones)
    vpc = ipaddress.ip_network(cidr)
    subnets = [ipaddress.ip_network(s) for s in plan.private + plan.public]
    assert len(plan.private) == len(plan.public) == zones
    assert all(subnet.subnet_of(vpc) for subnet in subnets)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(subnets, 2))


def test_vpc_spans_the_zones_with_private_subnets_and_nat() -> None:
    vpc = eks_root_module(_job())["module"]["vpc"]
    assert vpc["cidr"] == "10.40.0.0/16"
    assert len(vpc["private_subnets"]) == len(vpc["public_subnets"]) == 3
    assert vpc["azs"] == "${slice(data.aws_availability_zones.available.names, 0, 3)}"
    assert vpc["enable_nat_gateway"] is True


def test_node_groups_carry_sizes_capacity_type_and_disk() -> None:
    groups = eks_root_module(_job())["module"]["eks"]["eks_managed_node_groups"]
    assert groups["general"]["instance_types"] == ["t3.large"]
    assert (groups["general"]["min_size"], groups["general"]["max_size"]) == (2, 6)
    assert groups["general"]["desired_size"] == 3
    assert groups["general"]["capacity_type"] == "ON_DEMAND"
    assert groups["spot"]["capacity_type"] == "SPOT"
    assert groups["spot"]["desired_size"] == 0
    assert groups["spot"]["disk_size"] == 50


def test_paused_blueprint_scales_node_groups_to_zero_and_keeps_the_maximum() -> None:
    groups = eks_root_module(_job(), BlueprintOptions(paused=True))["module"]["eks"][
        "eks_managed_node_groups"
    ]
    assert all(g["min_size"] == g["desired_size"] == 0 for g in groups.values())
    assert groups["general"]["max_size"] == 6


def test_addons_irsa_encryption_endpoint_and_tags() -> None:
    root = eks_root_module(_job())
    eks = root["module"]["eks"]
    assert set(eks["addons"]) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}
    assert eks["enable_irsa"] is True
    assert eks["encryption_config"]["provider_key_arn"] == "${aws_kms_key.secrets.arn}"
    assert root["resource"]["aws_kms_key"]["secrets"]["enable_key_rotation"] is True
    assert eks["endpoint_public_access_cidrs"] == ["203.0.113.0/24"]
    assert eks["endpoint_private_access"] is True
    tags = root["provider"]["aws"][0]["default_tags"][0]["tags"]
    assert tags["managed-by"] == "qengine"
    assert tags["qengine:organization"] == "org-demo"
    assert tags["qengine:cluster"] == "cluster-prod-eu"
    assert tags["team"] == "platform"
    assert root["terraform"]["backend"] == {"s3": {}}
    assert set(root["output"]) == {
        "cluster_name",
        "endpoint",
        "certificate_authority",
        "oidc_issuer_url",
        "cluster_version",
        "vpc_id",
        "external_dns_role_arn",  # the example runs external-dns on its Route53 zone
        "cluster_autoscaler_role_arn",  # and node groups that may grow: cluster-autoscaler
    }


def test_without_secrets_encryption_no_key_is_declared() -> None:
    root = eks_root_module(_job(lambda p: p.update(secrets_encryption=False)))
    assert "aws_kms_key" not in root["resource"]
    assert root["module"]["eks"]["encryption_config"] is None
    assert "aws_kms_key" not in json.dumps(root)


def test_a_user_tag_cannot_override_the_ownership_tags() -> None:
    root = eks_root_module(_job(lambda p: p["tags"].update({"managed-by": "someone"})))
    assert root["module"]["eks"]["tags"]["managed-by"] == "qengine"


def test_a_service_cidr_goes_to_the_documented_module_input() -> None:
    eks = eks_root_module(_job(lambda p: p.update(service_cidr="172.20.0.0/16")))["module"]["eks"]
    assert eks["service_ipv4_cidr"] == "172.20.0.0/16"
    assert "service_ipv4_cidr" in pinned(EKS).inputs
    assert "service_ipv4_cidr" not in eks_root_module(_job())["module"]["eks"]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = document["statement"]
    return statements


def _assert_irsa_role(root: dict[str, Any], key: str, addon: str) -> None:
    """The role ``key`` is named after the cluster and ``addon``, trusted through the cluster's
    OIDC provider by ``addon``'s service account alone (the subject the add-on stack gives
    it), for STS's audience, and its ARN is the output ``<key>_role_arn``."""
    from qengine_addons import service_account_subject

    role = root["resource"]["aws_iam_role"][key]
    assert role["name"] == f"${{var.cluster_name}}-{addon}"
    assert role["assume_role_policy"] == f"${{data.aws_iam_policy_document.{key}_assume.json}}"
    [trust] = _statements(root["data"]["aws_iam_policy_document"][f"{key}_assume"])
    assert trust["effect"] == "Allow"
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert trust["principals"] == [
        {"type": "Federated", "identifiers": ["${module.eks.oidc_provider_arn}"]}
    ]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in trust["condition"]}
    assert conditions == {
        "${module.eks.oidc_provider}:sub": (
            "StringEquals",
            [f"system:serviceaccount:qengine-system:{addon}"],
        ),
        "${module.eks.oidc_provider}:aud": ("StringEquals", ["sts.amazonaws.com"]),
    }
    assert conditions["${module.eks.oidc_provider}:sub"][1] == [service_account_subject(addon)]
    assert root["output"][f"{key}_role_arn"] == {"value": f"${{aws_iam_role.{key}.arn}}"}


def test_external_dns_role_is_trusted_by_its_service_account_only() -> None:
    _assert_irsa_role(eks_root_module(_job()), "external_dns", "external-dns")
    # The subject is the one the add-on stack gives external-dns's service account.
    from qengine_addons import addon_values, load_freeze

    values = addon_values(load_freeze().get("external-dns"), _job(), {"external-dns": {"a": "b"}})
    assert values["serviceAccount"]["name"] == "external-dns"


def test_external_dns_policy_names_the_zone_only() -> None:
    root = eks_root_module(_job())
    attached = root["resource"]["aws_iam_role_policy"]["external_dns"]
    assert attached["role"] == "${aws_iam_role.external_dns.id}"
    assert attached["policy"] == "${data.aws_iam_policy_document.external_dns.json}"
    statements = _statements(root["data"]["aws_iam_policy_document"]["external_dns"])
    by_resource = {tuple(s["resources"]): sorted(s["actions"]) for s in statements}
    assert by_resource == {
        ("${data.aws_route53_zone.dns.arn}",): [
            "route53:ChangeResourceRecordSets",
            "route53:ListResourceRecordSets",
            "route53:ListTagsForResource",
            "route53:ListTagsForResources",
        ],
        # IAM takes no resource for it: the only action on "*".
        ("*",): ["route53:ListHostedZones"],
    }
    assert all(s["effect"] == "Allow" for s in statements)
    # The zone is the job's, the public one of that name (as the DNS provider finds it).
    assert root["data"]["aws_route53_zone"] == {
        "dns": {"name": "prod.example.com", "private_zone": False}
    }


def test_a_zone_id_is_named_in_the_policy_without_a_lookup() -> None:
    def with_zone_id(document: dict[str, Any]) -> None:
        document["dns"]["zone_id"] = "Z0123456789ABCDEFGHIJ"

    root = eks_root_module(_job(document_change=with_zone_id))
    statements = _statements(root["data"]["aws_iam_policy_document"]["external_dns"])
    zone = "arn:${data.aws_partition.current.partition}:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    assert [s["resources"] for s in statements] == [[zone], ["*"]]
    assert "aws_route53_zone" not in root["data"]


def test_a_zone_id_reaches_the_module_as_a_literal() -> None:
    def hostile(document: dict[str, Any]) -> None:
        document["dns"]["zone_id"] = 'Z1${file("/etc/hostname")}%{if true}x%{endif}'

    root = eks_root_module(_job(document_change=hostile))
    [zone, _] = _statements(root["data"]["aws_iam_policy_document"]["external_dns"])
    assert zone["resources"][0].endswith(
        'hostedzone/Z1$${file("/etc/hostname")}%%{if true}x%%{endif}'
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.pop("dns"), id="no-dns-section"),
        pytest.param(lambda d: d["cluster"].update(addons={"external_dns": False}), id="off"),
        pytest.param(lambda d: d["cluster"].update(addons={"manage": False}), id="unmanaged"),
    ],
)
def test_no_external_dns_role_without_external_dns(change: Any) -> None:
    root = eks_root_module(_job(document_change=change))
    assert "external_dns" not in root["resource"]["aws_iam_role"]
    assert "external_dns" not in root["resource"].get("aws_iam_role_policy", {})
    assert "external_dns_role_arn" not in root["output"]
    assert "external_dns" not in json.dumps(root)


def test_cluster_autoscaler_role_is_trusted_by_its_service_account_only() -> None:
    _assert_irsa_role(eks_root_module(_job()), "cluster_autoscaler", "cluster-autoscaler")
    # The subject is the account the stack gives the chart (under rbac.serviceAccount).
    from qengine_addons import addon_values, load_freeze

    addon = load_freeze().get("cluster-autoscaler")
    values = addon_values(addon, _job(), {"cluster-autoscaler": {"a": "b"}})
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"


def test_cluster_autoscaler_may_resize_only_the_groups_tagged_for_its_cluster() -> None:
    root = eks_root_module(_job())
    attached = root["resource"]["aws_iam_role_policy"]["cluster_autoscaler"]
    assert attached["role"] == "${aws_iam_role.cluster_autoscaler.id}"
    assert attached["policy"] == "${data.aws_iam_policy_document.cluster_autoscaler.json}"
    reads, nodegroups, scaling = _statements(
        root["data"]["aws_iam_policy_document"]["cluster_autoscaler"]
    )
    assert reads["resources"] == ["*"]
    assert "condition" not in reads
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in reads["actions"])
    assert {a.split(":")[0] for a in reads["actions"]} == {"autoscaling", "ec2"}
    assert nodegroups["actions"] == ["eks:DescribeNodegroup"]
    assert nodegroups["resources"] == [
        "arn:${data.aws_partition.current.partition}:eks:${var.region}:"
        "${data.aws_caller_identity.current.account_id}:nodegroup/${var.cluster_name}/*"
    ]
    assert sorted(scaling["actions"]) == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    assert scaling["condition"] == [
        {
            "test": "StringEquals",
            "variable": "aws:ResourceTag/k8s.io/cluster-autoscaler/prod-eu",
            "values": ["owned"],
        }
    ]
    assert all(s["effect"] == "Allow" for s in (reads, nodegroups, scaling))
    assert root["data"]["aws_caller_identity"] == {"current": {}}


def test_node_groups_carry_the_auto_discovery_tags() -> None:
    groups = eks_root_module(_job())["module"]["eks"]["eks_managed_node_groups"]
    for group in groups.values():
        assert group["tags"] == {
            "k8s.io/cluster-autoscaler/enabled": "true",
            "k8s.io/cluster-autoscaler/prod-eu": "owned",
        }
    assert "tags" in pinned(EKS).nested["eks_managed_node_groups.*"]  # a documented attribute


def test_a_paused_cluster_autoscaler_may_read_but_not_resize() -> None:
    root = eks_root_module(_job(), BlueprintOptions(paused=True))
    statements = _statements(root["data"]["aws_iam_policy_document"]["cluster_autoscaler"])
    actions = {a for s in statements for a in s["actions"]}
    assert "autoscaling:SetDesiredCapacity" not in actions
    assert "autoscaling:TerminateInstanceInAutoScalingGroup" not in actions
    assert "autoscaling:DescribeAutoScalingGroups" in actions
    # The role and its output stay: the release keeps its annotation while paused.
    assert "cluster_autoscaler_role_arn" in root["output"]


def _fixed_size(document: dict[str, Any]) -> None:
    for group in document["cluster"]["provider"]["node_groups"]:
        group["max_size"] = group["min_size"] = 2
        group.pop("desired_size", None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_fixed_size, id="no-group-may-grow"),
        pytest.param(lambda d: d["cluster"].update(addons={"autoscaler": False}), id="off"),
        pytest.param(lambda d: d["cluster"].update(addons={"manage": False}), id="unmanaged"),
    ],
)
def test_no_cluster_autoscaler_role_or_tags_without_the_autoscaler(change: Any) -> None:
    root = eks_root_module(_job(document_change=change))
    assert "cluster_autoscaler" not in root["resource"]["aws_iam_role"]
    assert "cluster_autoscaler_role_arn" not in root["output"]
    groups = root["module"]["eks"]["eks_managed_node_groups"]
    assert all("tags" not in group for group in groups.values())
    assert "cluster-autoscaler" not in json.dumps(root)


def test_asking_for_the_autoscaler_installs_it_for_fixed_size_groups_too() -> None:
    def asked(document: dict[str, Any]) -> None:
        _fixed_size(document)
        document["cluster"]["addons"] = {"autoscaler": True}

    root = eks_root_module(_job(document_change=asked))
    assert "cluster_autoscaler" in root["resource"]["aws_iam_role"]


def _dns01(document: dict[str, Any]) -> None:
    document["cluster"]["addons"] = {"acme_challenge": "dns01"}


def test_cert_manager_role_for_dns01_is_trusted_by_its_service_account_only() -> None:
    _assert_irsa_role(eks_root_module(_job(document_change=_dns01)), "cert_manager", "cert-manager")
    # The account the stack annotates is the one trusted.
    from qengine_addons import addon_values, load_freeze

    values = addon_values(load_freeze().get("cert-manager"), _job(), {"cert-manager": {"a": "b"}})
    assert values["serviceAccount"]["name"] == "cert-manager"


def test_cert_manager_policy_writes_the_zones_records_and_reads_its_changes_only() -> None:
    root = eks_root_module(_job(document_change=_dns01))
    attached = root["resource"]["aws_iam_role_policy"]["cert_manager"]
    assert attached["role"] == "${aws_iam_role.cert_manager.id}"
    assert attached["policy"] == "${data.aws_iam_policy_document.cert_manager.json}"
    statements = _statements(root["data"]["aws_iam_policy_document"]["cert_manager"])
    assert all(s["effect"] == "Allow" and "condition" not in s for s in statements)
    by_resource = {tuple(s["resources"]): sorted(s["actions"]) for s in statements}
    assert by_resource == {
        ("${data.aws_route53_zone.dns.arn}",): [
            "route53:ChangeResourceRecordSets",
            "route53:ListResourceRecordSets",
        ],
        ("arn:${data.aws_partition.current.partition}:route53:::change/*",): ["route53:GetChange"],
        ("*",): ["route53:ListHostedZonesByName"],
    }
    assert root["data"]["aws_route53_zone"] == {
        "dns": {"name": "prod.example.com", "private_zone": False}
    }

    def with_zone_id(document: dict[str, Any]) -> None:
        _dns01(document)
        document["cluster"]["addons"]["external_dns"] = False
        document["dns"]["zone_id"] = "Z0123456789ABCDEFGHIJ"

    root = eks_root_module(_job(document_change=with_zone_id))
    statements = _statements(root["data"]["aws_iam_policy_document"]["cert_manager"])
    zone = "arn:${data.aws_partition.current.partition}:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    assert statements[0]["resources"] == [zone]
    assert "aws_route53_zone" not in root["data"]
    assert "external_dns" not in root["resource"]["aws_iam_role"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: None, id="http01"),
        pytest.param(lambda d: d["cluster"].update(addons={"manage": False}), id="unmanaged"),
    ],
)
def test_no_cert_manager_role_unless_the_issuers_solve_dns01(change: Any) -> None:
    root = eks_root_module(_job(document_change=change))
    assert "cert_manager" not in root["resource"]["aws_iam_role"]
    assert "cert_manager_role_arn" not in root["output"]
    assert "cert_manager" not in json.dumps(root)


def test_dns01_on_eks_is_refused_for_a_zone_that_is_not_route53() -> None:
    from qengine import SpecError

    def cloud_dns(document: dict[str, Any]) -> None:
        _dns01(document)
        document["dns"] = {"kind": "cloud-dns", "project": "p", "zone": "prod.example.com",
                           "service_account": "dns@p.iam.gserviceaccount.com"}  # fmt: skip

    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    cloud_dns(document)
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,gcp"})
    with pytest.raises(SpecError) as refused:
        plugins.loader.load(document)
    assert "$.cluster.addons.acme_challenge: is dns01 with a cloud-dns zone" in str(refused.value)


def test_every_iam_role_named_after_the_cluster_is_in_the_name_checks() -> None:
    """The validation's limit on cluster names is derived from these roles: with every role
    the blueprint can make (external-dns, the autoscaler, DNS-01), their suffixes are exactly
    the checks' list, and the longest accepted name gives each role at most 64 characters."""
    from qengine_aws.checks import IAM_ROLE_NAME_MAX, MAX_CLUSTER_NAME, ROLE_SUFFIXES

    root = eks_root_module(_job(document_change=_dns01))
    names = [role["name"] for role in root["resource"]["aws_iam_role"].values()]
    prefix = "${var.cluster_name}"
    assert all(name.startswith(prefix) for name in names)
    assert sorted(name.removeprefix(prefix) for name in names) == sorted(ROLE_SUFFIXES)
    longest = "c" * MAX_CLUSTER_NAME
    assert max(len(name.replace(prefix, longest)) for name in names) <= IAM_ROLE_NAME_MAX
    # The module makes the cluster's own role from its name input, with a prefix (its
    # iam_role_name and iam_role_use_name_prefix are left to the module's defaults).
    eks = root["module"]["eks"]
    assert eks["name"] == prefix
    assert not {"iam_role_name", "iam_role_use_name_prefix", "prefix_separator"} & set(eks)
    for group in eks["eks_managed_node_groups"].values():
        assert not {"iam_role_name", "iam_role_use_name_prefix", "use_name_prefix"} & set(group)

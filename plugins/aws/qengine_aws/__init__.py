"""qengine-aws: EKS clusters, ECR registries, Route53 DNS on AWS."""

from qengine_aws.spec import AwsProvider, EcrRegistry, NodeGroup, Route53Dns, StateBackend

__all__ = ["AwsProvider", "EcrRegistry", "NodeGroup", "Route53Dns", "StateBackend"]

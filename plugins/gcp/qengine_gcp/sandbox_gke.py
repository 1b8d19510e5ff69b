"""A local stand-in of the Container (GKE) and Compute APIs for the sandbox: the calls the
plugin makes, on 127.0.0.1, answered with the real APIs' shapes.

No emulator of GKE exists. This server answers the REST calls of the official clients
(``google-cloud-container``'s ``ClusterManagerClient`` and ``google-cloud-compute``'s
``InstanceGroupManagersClient``, REST transport) that the plugin makes, and nothing else:

- ``GET  /v1/projects/P/locations/L/serverConfig``
- ``POST /v1/projects/P/locations/L/clusters`` (create), ``GET``/``DELETE .../clusters/C``
- ``POST .../clusters/C/nodePools`` (create), ``GET``/``DELETE .../nodePools/N``,
  ``POST .../nodePools/N:setSize``, ``POST .../nodePools/N:setAutoscaling``
- ``GET  /v1/projects/P/locations/L/operations/O``
- ``GET  /compute/v1/projects/P/zones/Z/instanceGroupManagers/G``,
  ``POST .../instanceGroupManagers/G/resize?size=N`` (one zone's group, as the cluster
  autoscaler resizes them), ``GET /compute/v1/projects/P/zones/Z/operations/O``
- ``GET  /compute/v1/projects/P`` (the project, with its project-wide quotas),
  ``GET  /compute/v1/projects/P/regions/R`` (its zones, status and quotas) and
  ``GET  /compute/v1/projects/P/zones/Z/machineTypes/M`` (the ``-N`` of a standard, highmem or
  highcpu type is its vCPUs; ``e2-micro``, ``e2-small``, ``e2-medium`` have 2; others 404)

Every body is built from the client library's own message types (``to_json``), so field
names and types are the APIs'; enums are names, or integers when the client asks
(``$alt=json;enum-encoding=int``). Errors are Google's ``{"error": {"code", "message",
"status"}}``. Mutations complete at once (their Operation is ``DONE``). A node pool has one
managed instance group per zone; a change of its autoscaling range moves each group's size
into the range at once, as the cluster autoscaler would in time; ``setSize`` sets every zone's
group to the count given, a group's ``resize`` that zone's only. Sandbox only: nothing here
talks to Google.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from qengine_gcp.sandbox_http import JsonStandIn, Reply

_VERSIONS = {
    "1.34": "1.34.1-gke.1100",
    "1.33": "1.33.5-gke.1200",
    "1.32": "1.32.9-gke.1300",
    "1.31": "1.31.13-gke.1000",
}
#: Generous regional quotas: the sandbox is not about quota refusals (tests narrow them).
_QUOTAS = {
    "CPUS": (512.0, 0.0),
    "PREEMPTIBLE_CPUS": (0.0, 0.0),
    "SSD_TOTAL_GB": (65536.0, 0.0),
    "DISKS_TOTAL_GB": (65536.0, 0.0),
    "IN_USE_ADDRESSES": (256.0, 0.0),
}
#: Generous project-wide quotas, by the same token.
_PROJECT_QUOTAS = {
    "CPUS_ALL_REGIONS": (1024.0, 0.0),
    "NETWORKS": (50.0, 0.0),
    "SUBNETWORKS": (275.0, 0.0),
    "FIREWALLS": (500.0, 0.0),
    "ROUTERS": (50.0, 0.0),
    "INSTANCE_TEMPLATES": (1000.0, 0.0),
    "IN_USE_ADDRESSES": (64.0, 0.0),
    "STATIC_ADDRESSES": (64.0, 0.0),
}
_MACHINE = re.compile(r"[a-z0-9]+-(?:standard|highmem|highcpu)-(?P<cpus>[0-9]+)")
_COMPUTE = "https://www.googleapis.com/compute/v1"
_LOCATION = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/:]+)"
_CLUSTER = _LOCATION + r"/clusters/(?P<cluster>[^/:]+)"
_POOL = _CLUSTER + r"/nodePools/(?P<pool>[^/:]+)"
_IGM = (
    r"/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)"
    r"/instanceGroupManagers/(?P<igm>[^/]+)"
)


class ApiError(Exception):
    """A Google error answer: HTTP ``code``, ``status`` name and ``message``."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class LocalGke(JsonStandIn):
    """The Container and Compute stand-in (served as :class:`JsonStandIn` serves, with no
    authorization); use it as a context manager. ``url`` is the root both clients are given
    as ``api_endpoint``. ``versions`` maps the minor versions GKE offers to the full version
    it would run, ``quotas`` each regional quota's ``(limit, usage)``, ``project_quotas``
    each project-wide one's (tests narrow them)."""

    def __init__(
        self,
        versions: dict[str, str] | None = None,
        quotas: dict[str, tuple[float, float]] | None = None,
        project_quotas: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self._versions = dict(_VERSIONS if versions is None else versions)
        self._quotas = dict(_QUOTAS if quotas is None else quotas)
        self._project_quotas = dict(_PROJECT_QUOTAS if project_quotas is None else project_quotas)
        self._clusters: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, int] = {}
        self._operations: dict[str, dict[str, Any]] = {}
        self._zone_operations: dict[str, Any] = {}
        self._numbers = itertools.count(1)
        self._guard = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        super().__init__()

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """Answer one request from its raw body (``handle`` takes it as JSON)."""
        return self.handle(method, path, json.loads(body) if body else {})

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON body)."""
        route, _, query = path.partition("?")
        ints = "enum-encoding=int" in urllib.parse.unquote(query)
        self.requests.append((method, route))
        # Compute takes some arguments in the query (``resize?size=N``): given as the body's.
        body = {**dict(urllib.parse.parse_qsl(query)), **body}
        try:
            with self._guard:
                message = self._dispatch(method, route, body)
        except ApiError as exc:
            error = {"code": exc.code, "message": exc.message, "status": exc.status}
            return exc.code, {"error": error}
        return 200, message(ints)

    def _dispatch(self, method: str, route: str, body: dict[str, Any]) -> Callable[[bool], Any]:
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, route)
            if match and verb == method:
                found: Callable[[bool], Any] = handler(match.groupdict(), body)
                return found
        raise ApiError(404, "NOT_FOUND", f"Requested entity was not found: {route}")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (_LOCATION + "/serverConfig", "GET", self._server_config),
            (_LOCATION + "/clusters", "POST", self._create_cluster),
            (_CLUSTER, "GET", self._get_cluster),
            (_CLUSTER, "DELETE", self._delete_cluster),
            (_CLUSTER + "/nodePools", "POST", self._create_pool),
            (_POOL, "GET", self._get_pool),
            (_POOL, "DELETE", self._delete_pool),
            (_POOL + ":setSize", "POST", self._set_size),
            (_POOL + ":setAutoscaling", "POST", self._set_autoscaling),
            (_LOCATION + r"/operations/(?P<operation>[^/]+)", "GET", self._get_operation),
            (_IGM, "GET", self._get_group),
            (_IGM + "/resize", "POST", self._resize_group),
            (r"/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)"
             r"/operations/(?P<operation>[^/]+)", "GET", self._get_zone_operation),
            (r"/compute/v1/projects/(?P<project>[^/]+)", "GET", self._get_project),
            (r"/compute/v1/projects/(?P<project>[^/]+)/regions/(?P<region>[^/]+)", "GET",
             self._get_region),
            (r"/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)"
             r"/machineTypes/(?P<machine>[^/]+)", "GET", self._get_machine_type),
        ]  # fmt: skip

    # Container API

    def _server_config(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import container_v1

        versions = list(self._versions.values())
        channels = [
            container_v1.ServerConfig.ReleaseChannelConfig(
                channel=getattr(container_v1.ReleaseChannel.Channel, name),
                default_version=versions[0] if versions else "",
                valid_versions=versions,
            )
            for name in ("RAPID", "REGULAR", "STABLE", "EXTENDED")
        ]
        config = container_v1.ServerConfig(
            default_cluster_version=versions[0] if versions else "",
            valid_master_versions=versions,
            valid_node_versions=versions,
            default_image_type="COS_CONTAINERD",
            valid_image_types=["COS_CONTAINERD", "UBUNTU_CONTAINERD"],
            channels=channels,
        )
        return _json(container_v1.ServerConfig, config)

    def _key(self, at: dict[str, str]) -> str:
        return f"projects/{at['project']}/locations/{at['location']}/clusters/{at['cluster']}"

    def _cluster(self, at: dict[str, str]) -> dict[str, Any]:
        found = self._clusters.get(self._key(at))
        if found is None:
            raise ApiError(404, "NOT_FOUND", f"Not found: {self._key(at)}.")
        return found

    def _create_cluster(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        cluster = dict(body.get("cluster") or {})
        at = {**at, "cluster": str(cluster.get("name", ""))}
        if self._key(at) in self._clusters:
            raise ApiError(409, "ALREADY_EXISTS", f"Already exists: {self._key(at)}.")
        pools = cluster.pop("nodePools", [])
        cluster.setdefault("locations", [f"{at['location']}-{z}" for z in "bcd"])
        version = self._versions.get(str(cluster.get("initialClusterVersion", ""))[:4], "")
        cluster.update(location=at["location"], status="RUNNING", currentMasterVersion=version)
        cluster["nodePools"] = []
        self._clusters[self._key(at)] = cluster
        for pool in pools:
            self._add_pool(at, cluster, pool)
        return self._done(at, "CREATE_CLUSTER", self._key(at))

    def _get_cluster(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import container_v1

        cluster = self._cluster(at)
        return _json(container_v1.Cluster, container_v1.Cluster.from_json(json.dumps(cluster)))

    def _delete_cluster(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        cluster = self._cluster(at)
        for pool in cluster["nodePools"]:
            for url in pool["instanceGroupUrls"]:
                self._groups.pop(url, None)
        del self._clusters[self._key(at)]
        return self._done(at, "DELETE_CLUSTER", self._key(at))

    def _add_pool(self, at: dict[str, str], cluster: dict[str, Any], pool: dict[str, Any]) -> None:
        name = str(pool["name"])
        if any(found["name"] == name for found in cluster["nodePools"]):
            raise ApiError(409, "ALREADY_EXISTS", f"Already exists: node pool {name}.")
        zones = list(pool.get("locations") or cluster["locations"])
        count = int(pool.get("initialNodeCount", 0))
        urls = []
        for zone in zones:
            group = f"gke-{cluster['name']}-{name}-{zone}-grp"[:63]
            url = f"{_COMPUTE}/projects/{at['project']}/zones/{zone}/instanceGroupManagers/{group}"
            self._groups[url] = count
            urls.append(url)
        entry = dict(pool, locations=zones, instanceGroupUrls=urls, status="RUNNING")
        cluster["nodePools"].append(entry)

    def _create_pool(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        cluster = self._cluster(at)
        self._add_pool(at, cluster, dict(body.get("nodePool") or {}))
        return self._done(at, "CREATE_NODE_POOL", self._key(at))

    def _pool(self, at: dict[str, str]) -> dict[str, Any]:
        for pool in self._cluster(at)["nodePools"]:
            if pool["name"] == at["pool"]:
                return pool  # type: ignore[no-any-return]
        raise ApiError(404, "NOT_FOUND", f"Not found: {self._key(at)}/nodePools/{at['pool']}.")

    def _get_pool(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import container_v1

        pool = container_v1.NodePool.from_json(json.dumps(self._pool(at)))
        return _json(container_v1.NodePool, pool)

    def _delete_pool(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        pool = self._pool(at)
        for url in pool["instanceGroupUrls"]:
            self._groups.pop(url, None)
        self._cluster(at)["nodePools"].remove(pool)
        return self._done(at, "DELETE_NODE_POOL", f"{self._key(at)}/nodePools/{at['pool']}")

    def _set_size(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        pool, count = self._pool(at), int(body.get("nodeCount", 0))
        if count < 0:
            raise ApiError(400, "INVALID_ARGUMENT", "nodeCount must be non-negative.")
        for url in pool["instanceGroupUrls"]:
            self._groups[url] = count
        return self._done(at, "SET_NODE_POOL_SIZE", f"{self._key(at)}/nodePools/{at['pool']}")

    def _set_autoscaling(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        pool, scaling = self._pool(at), dict(body.get("autoscaling") or {})
        low, high = int(scaling.get("minNodeCount", 0)), int(scaling.get("maxNodeCount", 0))
        if scaling.get("enabled") and not 0 <= low <= high:
            raise ApiError(400, "INVALID_ARGUMENT", "minNodeCount must not exceed maxNodeCount.")
        pool["autoscaling"] = scaling
        if scaling.get("enabled"):
            for url in pool["instanceGroupUrls"]:
                self._groups[url] = min(max(self._groups[url], low), high)
        return self._done(at, "SET_NODE_POOL_MANAGEMENT", f"{self._key(at)}/nodePools/{at['pool']}")

    def _done(self, at: dict[str, str], kind: str, target: str) -> Callable[[bool], Any]:
        from google.cloud import container_v1

        name = f"operation-{next(self._numbers)}"
        operation = {
            "name": name,
            "operationType": kind,
            "status": "DONE",
            "location": at["location"],
            "selfLink": f"projects/{at['project']}/locations/{at['location']}/operations/{name}",
            "targetLink": target,
        }
        self._operations[name] = operation
        message = container_v1.Operation.from_json(json.dumps(operation))
        return _json(container_v1.Operation, message)

    def _get_operation(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import container_v1

        found = self._operations.get(at["operation"])
        if found is None:
            raise ApiError(404, "NOT_FOUND", f"Operation {at['operation']} not found.")
        return _json(container_v1.Operation, container_v1.Operation.from_json(json.dumps(found)))

    # Compute API

    def _get_group(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        url = self._group_url(at)
        group = compute_v1.InstanceGroupManager(
            name=at["igm"],
            zone=f"{_COMPUTE}/projects/{at['project']}/zones/{at['zone']}",
            self_link=url,
            target_size=self._groups[url],
        )
        return _json(compute_v1.InstanceGroupManager, group)

    def _group_url(self, at: dict[str, str]) -> str:
        url = (
            f"{_COMPUTE}/projects/{at['project']}/zones/{at['zone']}/"
            f"instanceGroupManagers/{at['igm']}"
        )
        if url not in self._groups:
            raise ApiError(404, "NOT_FOUND", f"The resource '{url}' was not found")
        return url

    def _resize_group(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        url = self._group_url(at)
        size = int(body.get("size", -1))
        if size < 0:
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid value for field 'size'.")
        self._groups[url] = size
        name = f"operation-{next(self._numbers)}"
        zone = f"{_COMPUTE}/projects/{at['project']}/zones/{at['zone']}"
        operation = compute_v1.Operation(
            name=name,
            operation_type="compute.instanceGroupManagers.resize",
            status=compute_v1.Operation.Status.DONE,
            progress=100,
            zone=zone,
            target_link=url,
            self_link=f"{zone}/operations/{name}",
        )
        self._zone_operations[name] = operation
        return _json(compute_v1.Operation, operation)

    def _get_zone_operation(
        self, at: dict[str, str], body: dict[str, Any]
    ) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        found = self._zone_operations.get(at["operation"])
        if found is None or not found.zone.endswith(f"/zones/{at['zone']}"):
            message = f"The resource 'operation {at['operation']}' was not found"
            raise ApiError(404, "NOT_FOUND", message)
        return _json(compute_v1.Operation, found)

    def _get_project(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        number = 100000000000 + sum(map(ord, at["project"]))
        project = compute_v1.Project(
            kind="compute#project",
            name=at["project"],
            id=number,
            self_link=f"{_COMPUTE}/projects/{at['project']}",
            creation_timestamp="2026-01-05T09:00:00.000-08:00",
            default_service_account=f"{number}-compute@developer.gserviceaccount.com",
            default_network_tier="PREMIUM",
            xpn_project_status="UNSPECIFIED_XPN_PROJECT_STATUS",
            quotas=[
                compute_v1.Quota(metric=metric, limit=limit, usage=usage)
                for metric, (limit, usage) in self._project_quotas.items()
            ],
        )
        return _json(compute_v1.Project, project)

    def _get_region(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        base = f"{_COMPUTE}/projects/{at['project']}"
        region = compute_v1.Region(
            name=at["region"],
            status="UP",
            self_link=f"{base}/regions/{at['region']}",
            zones=[f"{base}/zones/{at['region']}-{zone}" for zone in "bcd"],
            quotas=[
                compute_v1.Quota(metric=metric, limit=limit, usage=usage)
                for metric, (limit, usage) in self._quotas.items()
            ],
        )
        return _json(compute_v1.Region, region)

    def _get_machine_type(self, at: dict[str, str], body: dict[str, Any]) -> Callable[[bool], Any]:
        from google.cloud import compute_v1

        name = at["machine"]
        match = _MACHINE.fullmatch(name)
        cpus = int(match.group("cpus")) if match else {"e2-micro": 2, "e2-small": 2}.get(name)
        if name == "e2-medium":
            cpus = 2
        if cpus is None:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"The resource 'projects/{at['project']}/zones/{at['zone']}/machineTypes/"
                f"{name}' was not found",
            )
        machine = compute_v1.MachineType(
            name=name, zone=at["zone"], guest_cpus=cpus, memory_mb=cpus * 4096
        )
        return _json(compute_v1.MachineType, machine)


def _json(kind: Any, message: Any) -> Callable[[bool], Any]:
    def render(ints: bool) -> Any:
        return json.loads(kind.to_json(message, use_integers_for_enums=ints))

    return render

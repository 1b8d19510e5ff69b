"""A run-once job's outputs: a JSON object of strings the job wrote to its termination message.

The job writes ``/qengine/output/output.json`` (the container's ``terminationMessagePath``);
the kubelet copies it (up to 4096 bytes) into the pod's status, where the engine reads it.
When the message is empty, the last log line starting with ``qengine-output:`` is read
instead (for images that cannot write the file). Names must match the job's
``output_name_pattern``; values must be strings.
"""

from __future__ import annotations

import json
import re

from qengine.plugin import DeploymentError
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.rollout import controlled_by

LOG_PREFIX = "qengine-output:"


def parse_outputs(text: str, pattern: str, job: str) -> dict[str, str]:
    """The outputs in ``text`` (a JSON object), names checked against ``pattern``."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DeploymentError(
            f"job {job} wrote outputs that are not JSON",
            hint="Write a JSON object of strings to /qengine/output/output.json.",
        ) from exc
    if not isinstance(data, dict):
        raise DeploymentError(
            f"job {job} wrote outputs that are not a JSON object",
            hint="Write a JSON object of strings to /qengine/output/output.json.",
        )
    checked = re.compile(pattern)
    bad = sorted(k for k, v in data.items() if not checked.fullmatch(k) or not isinstance(v, str))
    if bad:
        raise DeploymentError(
            f"job {job} wrote outputs with invalid names or non-string values: {', '.join(bad)}",
            hint=f"Output names must match {pattern} and values must be strings.",
        )
    return dict(data)


def read_outputs(api: KubeApi, namespace: str, job: Manifest, pattern: str) -> dict[str, str]:
    """The outputs of the completed Job ``job``, from its succeeded pod (one the live ``job``
    controls: a deleted Job of the same name leaves pods until they are garbage-collected)."""
    name = job["metadata"]["name"]
    uid = job["metadata"].get("uid")
    pods = api.list("Pod", namespace, f"job-name={name}")
    done = [
        p
        for p in pods
        if p.get("status", {}).get("phase") == "Succeeded" and (not uid or controlled_by(p, uid))
    ]
    if not done:
        return {}
    pod = done[-1]
    for status in pod.get("status", {}).get("containerStatuses", []):
        message = (status.get("state", {}).get("terminated") or {}).get("message", "")
        if message:
            return parse_outputs(message, pattern, name)
        log = api.pod_log(namespace, pod["metadata"]["name"], status.get("name", ""), 50)
        for line in reversed(log.splitlines()):
            if line.startswith(LOG_PREFIX):
                return parse_outputs(line[len(LOG_PREFIX) :], pattern, name)
    return {}

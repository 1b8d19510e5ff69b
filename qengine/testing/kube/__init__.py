"""A Kubernetes API server simulator for tests: ``KubeSimulator``.

It speaks the Kubernetes REST protocol over HTTPS on 127.0.0.1 well enough for the real
``kubectl`` and the official ``kubernetes`` client; see ``docs/kube-simulator.md`` for what it
does and, plainly, what it does not.
"""

from qengine.testing.kube.clock import SimClock
from qengine.testing.kube.faults import ApiFault, Faults, PodFault
from qengine.testing.kube.requestlog import RequestRecord
from qengine.testing.kube.simulator import KubeSimulator

__all__ = ["ApiFault", "Faults", "KubeSimulator", "PodFault", "RequestRecord", "SimClock"]

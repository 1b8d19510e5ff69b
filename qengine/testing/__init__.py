"""Test support that ships with qengine, for the project's own tests and for plugin authors.

``qengine.testing.kube`` is a Kubernetes API simulator that the real ``kubectl`` and the
official client accept; see ``docs/kube-simulator.md``.
"""

"""Test support that ships with qengine, for the project's own tests and for plugin authors.

- ``qengine.testing.kube``: a Kubernetes API simulator that the real ``kubectl`` and the
  official client accept (see ``docs/kube-simulator.md``), with pytest fixtures in
  ``qengine.testing.kube.fixtures``;
- ``qengine.testing.steps``: scripted runner steps (succeed, fail, hang, fail transiently);
- ``qengine.testing.plugin``: a test plugin whose steps do what the job says;
- ``qengine.testing.events``: a sink that checks every event against the schema;
- ``qengine.testing.plugin_contract``: the contract suite a plugin's tests subclass.
"""

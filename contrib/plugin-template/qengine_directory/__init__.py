"""qengine-directory: a target that renders an environment to a directory of files.

An environment job whose target is ``{"kind": "directory", "path": "/srv/environments"}``
writes one JSON file per service to ``/srv/environments/<environment name>/<service>.json``,
for a person, a review or a tool that watches the directory to pick up. Secret references stay
references: no secret value is ever written. This plugin is also the template a third party's
plugin starts from (see the README).
"""

"""The files this plugin writes: one JSON document per service, replaced atomically.

A file holds the service as the job wrote it (secret references stay ``{"secret": name}``:
no value is ever written) and the state that pause, resume and restart jobs record::

    {"apiVersion": "qengine.dev/v1", "kind": "RenderedService", "environment": "shop",
     "service": {"kind": "container", "name": "web", ...}, "image": null,
     "paused": false, "restartedBy": null}

``image`` is the image a build made of an ``application`` service (``host/repo:tag``), when
the job built it.

Keys are sorted and the layout fixed, so the same service always gives the same bytes: a
no-op deploy finds nothing to write, and a diff of the directory shows exactly what changed.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import attrs

from qengine.plugin import ConflictError
from qengine.spec import API_VERSION, Service, SpecLoader

KIND = "RenderedService"


@attrs.frozen(kw_only=True)
class ServiceFile:
    """One service's file: its spec as JSON, the image built for it, and the state jobs record
    in it."""

    environment: str
    service: Mapping[str, object]
    image: str | None = None
    paused: bool = False
    restarted_by: str | None = None

    @classmethod
    def of(cls, environment: str, service: Service) -> ServiceFile:
        """The file of ``service`` as a job's spec gives it, in its default state."""
        spec: Mapping[str, object] = _loader().converter.unstructure(service, type(service))
        return cls(environment=environment, service=spec)

    @classmethod
    def parse(cls, path: Path, text: str) -> ServiceFile:
        """The file at ``path`` whose content is ``text``; ConflictError when this plugin
        did not write it (a person's file is never overwritten)."""
        try:
            document = json.loads(text)
            if document.get("kind") != KIND:
                raise ValueError(f"its kind is not {KIND!r}")
            return cls(
                environment=document["environment"],
                service=document["service"],
                image=document["image"],
                paused=document["paused"],
                restarted_by=document["restartedBy"],
            )
        except (ValueError, KeyError, AttributeError) as exc:
            raise ConflictError(
                f"{path} is not a file this target wrote ({exc})",
                hint="Move it out of the environment's directory, then run the job again.",
            ) from exc

    def text(self) -> str:
        """The file's content, always the same bytes for the same value."""
        document = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "environment": self.environment,
            "service": self.service,
            "image": self.image,
            "paused": self.paused,
            "restartedBy": self.restarted_by,
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"


@functools.cache
def _loader() -> SpecLoader:
    # The spec's own converter writes services back as a job would have them.
    return SpecLoader()


def read_text(path: Path) -> str:
    """The content of ``path``, or "" when there is no such file (a written file never is)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def replace(path: Path, text: str) -> None:
    """Make ``path`` hold ``text``, or remove it for "": a reader sees the old content or the
    new, never half of it. Writes nothing when the content is already ``text``."""
    if read_text(path) == text:
        return
    if not text:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden temporary name in the same directory: os.replace is atomic within a file system,
    # and a tool watching the directory skips dot files.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # no secret in it; readable by whoever picks it up
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

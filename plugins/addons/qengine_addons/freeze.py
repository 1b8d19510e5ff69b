"""The freeze file: every add-on's chart, exact version, archive digest and default values.

``freeze.json`` beside this module is the stack the engine installs. :func:`load_freeze`
reads and checks it (exact versions, sha256 digests, known dependencies, no cycle), and
:func:`chart_digest` is how a digest is computed: the sha256 of the chart archive, which is
also the layer digest of a chart pushed to an OCI registry, so a mirror that holds the same
archive holds the same digest. ``python -m qengine_addons.freeze record DIR`` writes the
digests of the archives found in ``DIR`` (``<chart>-<version>.tgz``, as ``helm pull`` names
them) into the freeze file.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from qengine.plugin import InvalidInputError

FREEZE_FILE = Path(__file__).with_name("freeze.json")
BUILTIN = "builtin"
#: An exact chart version (semver, optionally with a leading ``v`` as cert-manager's).
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")


@attrs.frozen(kw_only=True)
class PinnedChart:
    """One add-on: a Helm release named ``name`` of ``chart`` at ``version``.

    ``repository`` is the upstream chart repository (``https://``), an ``oci://`` registry, or
    ``builtin`` (a chart shipped inside this package). ``digest`` is ``sha256:<hex>`` of the
    archive, or None when not recorded. ``needs``: add-ons ready before this one.
    ``timeout``: seconds helm waits for the release. ``crd_values``: values that make the
    chart render its CRDs (used only to extract them). ``values``: the release's defaults.
    """

    name: str
    chart: str
    repository: str
    version: str
    digest: str | None
    needs: tuple[str, ...]
    timeout: int
    crd_values: Mapping[str, Any]
    values: Mapping[str, Any]

    @property
    def builtin(self) -> bool:
        """Whether the chart ships inside this package."""
        return self.repository == BUILTIN


@attrs.frozen(kw_only=True)
class Freeze:
    """The whole stack, in the file's order (which is also a valid install order)."""

    namespace: str
    addons: tuple[PinnedChart, ...]

    def get(self, name: str) -> PinnedChart:
        """The add-on ``name``; KeyError when the freeze has none."""
        for addon in self.addons:
            if addon.name == name:
                return addon
        raise KeyError(name)

    def names(self) -> list[str]:
        """Every add-on's name."""
        return [addon.name for addon in self.addons]

    def with_digests(self, digests: Mapping[str, str]) -> Freeze:
        """The same stack with the digests of ``digests`` (by add-on name) recorded."""
        return attrs.evolve(
            self,
            addons=tuple(
                attrs.evolve(a, digest=digests.get(a.name, a.digest)) for a in self.addons
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """The file's JSON form."""
        return {
            "namespace": self.namespace,
            "addons": [{**attrs.asdict(a), "needs": list(a.needs)} for a in self.addons],
        }


def _bad(path: str, what: str) -> InvalidInputError:
    return InvalidInputError(
        f"freeze file: {path} {what}", hint="Fix the add-on freeze file (see docs/addons.md)."
    )


def _chart(index: int, raw: Mapping[str, Any]) -> PinnedChart:
    where = f"addons[{index}]"
    fields = {f.name for f in attrs.fields(PinnedChart)}
    unknown = set(raw) - fields
    missing = fields - set(raw)
    if unknown or missing:
        raise _bad(where, f"has unknown keys {sorted(unknown)} or lacks {sorted(missing)}")
    if not isinstance(raw["name"], str) or not _NAME.match(raw["name"]):
        raise _bad(f"{where}.name", "is not a release name")
    if not isinstance(raw["version"], str) or not _VERSION.match(raw["version"]):
        raise _bad(f"{where}.version", "is not an exact version")
    if raw["digest"] is not None and not _DIGEST.match(str(raw["digest"])):
        raise _bad(f"{where}.digest", "is not sha256:<64 hex digits>")
    repository = raw["repository"]
    if not isinstance(repository, str) or not (
        repository == BUILTIN or repository.startswith(("https://", "oci://"))
    ):
        raise _bad(f"{where}.repository", "is not https://, oci:// or builtin")
    for key in ("values", "crd_values"):
        if not isinstance(raw[key], dict):
            raise _bad(f"{where}.{key}", "is not an object")
    if not isinstance(raw["timeout"], int) or not 10 <= raw["timeout"] <= 3600:
        raise _bad(f"{where}.timeout", "is not 10 to 3600 seconds")
    return PinnedChart(
        name=raw["name"],
        chart=str(raw["chart"]),
        repository=repository,
        version=raw["version"],
        digest=raw["digest"],
        needs=tuple(raw["needs"]),
        timeout=raw["timeout"],
        crd_values=raw["crd_values"],
        values=raw["values"],
    )


def parse_freeze(data: Mapping[str, Any]) -> Freeze:
    """Check and type a freeze document; :class:`InvalidInputError` naming the bad entry."""
    addons = tuple(_chart(i, raw) for i, raw in enumerate(data.get("addons") or []))
    if not addons:
        raise _bad("addons", "is empty")
    seen: set[str] = set()
    for index, addon in enumerate(addons):
        if addon.name in seen:
            raise _bad(f"addons[{index}].name", f"repeats {addon.name!r}")
        for need in addon.needs:
            if need not in seen:
                raise _bad(
                    f"addons[{index}].needs",
                    f"names {need!r}, which is not an add-on listed before it",
                )
        seen.add(addon.name)
    return Freeze(namespace=str(data.get("namespace", "qengine-system")), addons=addons)


def load_freeze(path: Path = FREEZE_FILE) -> Freeze:
    """Read and check the freeze file at ``path`` (the package's own by default)."""
    return parse_freeze(json.loads(path.read_text()))


def chart_digest(archive: Path) -> str:
    """``sha256:<hex>`` of a chart archive."""
    return "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()


def record_digests(freeze_path: Path, archives: Path) -> list[str]:
    """Write into ``freeze_path`` the digest of each ``<chart>-<version>.tgz`` in ``archives``;
    the names of the add-ons recorded."""
    data = json.loads(freeze_path.read_text())
    done: list[str] = []
    for raw in data["addons"]:
        archive = archives / f"{raw['chart']}-{raw['version']}.tgz"
        if archive.is_file():
            raw["digest"] = chart_digest(archive)
            done.append(raw["name"])
    freeze_path.write_text(json.dumps(data, indent=2) + "\n")
    return done


def main(argv: Sequence[str]) -> int:
    """``record DIR [FREEZE]``: record the digests of the archives in DIR."""
    if len(argv) not in (2, 3) or argv[0] != "record":
        print("usage: python -m qengine_addons.freeze record DIR [FREEZE_FILE]", file=sys.stderr)
        return 2
    freeze_path = Path(argv[2]) if len(argv) == 3 else FREEZE_FILE
    for name in record_digests(freeze_path, Path(argv[1])):
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

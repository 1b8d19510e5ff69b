"""How a problem names a service: by its name, ``$.environment.services[web].replicas``.

The checks find problems by position; before they are shown, each position becomes the
service's name, in the path and in the message, so a user reads which service is meant. A
number stays where the name cannot serve: a service without a usable name (missing, not a
string, with characters other than letters, digits, ``-`` and ``_``, or digits only, which
would read as a position) and services sharing a name. A number in brackets is therefore
always a position, counted from 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from qengine._errors import SpecIssue

_SERVICE = re.compile(r"(?<![\w\]])((?:\$\.)?environment\.services)\[([0-9]{1,7})\]")
_USABLE = re.compile(r"[A-Za-z0-9_-]{1,63}")


def service_labels(document: Mapping[str, object]) -> dict[str, str]:
    """The name to show for each service position (as text) that has a usable one."""
    environment = document.get("environment")
    services = environment.get("services") if isinstance(environment, dict) else None
    if not isinstance(services, list):
        return {}
    names = [s.get("name") if isinstance(s, dict) else None for s in services]
    counts = Counter(n for n in names if isinstance(n, str))
    return {
        str(index): name
        for index, name in enumerate(names)
        if isinstance(name, str)
        and counts[name] == 1
        and _USABLE.fullmatch(name)
        and not name.isdigit()
    }


def named(issues: Iterable[SpecIssue], labels: Mapping[str, str]) -> list[SpecIssue]:
    """``issues`` with service positions replaced by names (see the module docstring)."""
    if not labels:
        return list(issues)

    def label(match: re.Match[str]) -> str:
        return f"{match.group(1)}[{labels.get(match.group(2), match.group(2))}]"

    return [SpecIssue(_SERVICE.sub(label, i.path), _SERVICE.sub(label, i.message)) for i in issues]


def service_path(services: Sequence[object], index: int) -> str:
    """The path of service ``index`` of a well-formed environment's ``services`` as issues
    show it: ``$.environment.services[web]`` (or its position, as the module docstring says;
    the names of a well-formed environment are unique).

    For plugins that find a problem after loading (at plan or run time), so their issues name
    services as the loader's do."""
    name = getattr(services[index], "name", None)
    usable = isinstance(name, str) and _USABLE.fullmatch(name) and not name.isdigit()
    return f"$.environment.services[{name if usable else index}]"

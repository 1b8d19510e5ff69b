"""Turning a job document into a validated, frozen job."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs
import cattrs

from qengine._errors import SpecError, SpecIssue
from qengine.spec._checks import check_job
from qengine.spec._convert import SectionKinds, issues_from, make_converter
from qengine.spec._document import read_document, string_issues
from qengine.spec._job import API_VERSION, JOB_KINDS, Job
from qengine.spec._partial import partial_issues
from qengine.spec._paths import named, service_labels
from qengine.spec._suggest import deferred_suggestions, did_you_mean, resolve

JobCheck = Callable[[Job], Iterable[SpecIssue]]
"""A further check of a structured job (a plugin's validation or policy)."""


@attrs.frozen
class SpecLoader:
    """Loads jobs with the sections and checks of a set of plugins."""

    sections: SectionKinds = attrs.field(factory=dict)
    checks: tuple[JobCheck, ...] = ()
    converter: cattrs.Converter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "converter", make_converter(self.sections))

    def load(self, document: Mapping[str, object]) -> Job:
        """Structure and check ``document``; raise :class:`SpecError` with every issue.

        Field errors and the cross-field problems of the well-formed parts are reported
        together; plugins' checks run once every field is well-formed and add no problem at
        a path where the spec's own checks found one (a duplicate name is one problem, not
        one per object the two services would share). Services are named by name in the
        issues (:mod:`qengine.spec._paths`), and misspellings get a suggestion."""
        with deferred_suggestions():
            return self._load(document)

    def _load(self, document: Mapping[str, object]) -> Job:
        strings = string_issues(document)
        if strings:  # nothing too long or hidden reaches a regex or a message
            raise SpecError(_shown(strings, document))
        kind = document.get("kind")
        issues: list[SpecIssue] = []
        if document.get("apiVersion") != API_VERSION:
            issues.append(SpecIssue("$.apiVersion", f"must be {API_VERSION!r}"))
        if kind not in JOB_KINDS:
            known = ", ".join(map(repr, JOB_KINDS))
            hint = did_you_mean(kind, JOB_KINDS)
            issues.append(SpecIssue("$.kind", f"must be one of {known}{hint}"))
            raise SpecError(_shown(issues, document))
        try:
            job = self.converter.structure(document, JOB_KINDS[str(kind)])
        except Exception as exc:  # cattrs groups every field's error; flatten them all
            issues.extend(i for i in issues_from(exc) if i.path != "$.apiVersion")
            issues.extend(partial_issues(document, str(kind), self.converter))
            raise SpecError(_shown(issues, document)) from None
        own = check_job(job)
        flagged = {issue.path for issue in own}
        issues += own
        for check in self.checks:
            issues.extend(i for i in check(job) if i.path not in flagged)
        if issues:
            raise SpecError(_shown(issues, document))
        return job

    def read(self, path: Path) -> Job:
        """Read the job document at ``path`` within the input limits, then :meth:`load` it."""
        return self.load(read_document(path))

    def dump(self, job: Job) -> dict[str, object]:
        """The JSON document of ``job`` (fields at their defaults omitted)."""
        document: dict[str, object] = self.converter.unstructure(job, type(job))
        return document


MAX_ISSUES = 100
MAX_ISSUE_CHARS = 300


def _bounded(issues: list[SpecIssue]) -> list[SpecIssue]:
    """At most ``MAX_ISSUES`` issues, each at most ``MAX_ISSUE_CHARS`` long: a hostile spec
    cannot make an error message (printed, logged, audited) as large as itself."""
    shown = [
        SpecIssue(_cut(issue.path), _cut(resolve(issue.message)))
        for issue in sorted(issues, key=lambda i: (i.path, i.message))[:MAX_ISSUES]
    ]
    if len(issues) > MAX_ISSUES:
        shown.append(SpecIssue("$", f"and {len(issues) - MAX_ISSUES} more problems not shown"))
    return shown


def _shown(issues: list[SpecIssue], document: Mapping[str, object]) -> list[SpecIssue]:
    """``issues`` as shown: services named (see :mod:`qengine.spec._paths`), the first
    ``MAX_ISSUES`` with their suggestions, cut to size. A first, looser cut keeps the naming's
    work small; whatever it leaves of a suggestion's placeholder, the final cut removes."""
    loose = [SpecIssue(_cut(i.path, 4096), _cut(i.message, 4096)) for i in issues]
    return _bounded(named(loose, service_labels(document)))


def _cut(text: str, limit: int = MAX_ISSUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_job(document: Mapping[str, object], sections: SectionKinds | None = None) -> Job:
    """Load a job from parsed JSON with the given plugin sections (none by default)."""
    return SpecLoader(sections or {}).load(document)


def read_job(path: Path, sections: SectionKinds | None = None) -> Job:
    """Read and load the job document at ``path``."""
    return SpecLoader(sections or {}).read(path)

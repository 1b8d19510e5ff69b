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
        """Structure and check ``document``; raise :class:`SpecError` with every issue."""
        strings = string_issues(document)
        if strings:  # nothing too long or hidden reaches a regex or a message
            raise SpecError(_bounded(strings))
        kind = document.get("kind")
        issues: list[SpecIssue] = []
        if document.get("apiVersion") != API_VERSION:
            issues.append(SpecIssue("$.apiVersion", f"must be {API_VERSION!r}"))
        if kind not in JOB_KINDS:
            issues.append(SpecIssue("$.kind", f"must be one of {', '.join(map(repr, JOB_KINDS))}"))
            raise SpecError(issues)
        try:
            job = self.converter.structure(document, JOB_KINDS[str(kind)])
        except Exception as exc:  # cattrs groups every field's error; flatten them all
            issues.extend(i for i in issues_from(exc) if i.path != "$.apiVersion")
            raise SpecError(_bounded(issues)) from None
        issues.extend(check_job(job))
        for check in self.checks:
            issues.extend(check(job))
        if issues:
            raise SpecError(_bounded(issues))
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
        SpecIssue(_cut(issue.path), _cut(issue.message))
        for issue in sorted(issues, key=lambda i: (i.path, i.message))[:MAX_ISSUES]
    ]
    if len(issues) > MAX_ISSUES:
        shown.append(SpecIssue("$", f"and {len(issues) - MAX_ISSUES} more problems not shown"))
    return shown


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ISSUE_CHARS else text[: MAX_ISSUE_CHARS - 3] + "..."


def load_job(document: Mapping[str, object], sections: SectionKinds | None = None) -> Job:
    """Load a job from parsed JSON with the given plugin sections (none by default)."""
    return SpecLoader(sections or {}).load(document)


def read_job(path: Path, sections: SectionKinds | None = None) -> Job:
    """Read and load the job document at ``path``."""
    return SpecLoader(sections or {}).read(path)

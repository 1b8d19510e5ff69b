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
            raise SpecError(strings)
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
            raise SpecError(issues) from None
        issues.extend(check_job(job))
        for check in self.checks:
            issues.extend(check(job))
        if issues:
            raise SpecError(issues)
        return job

    def read(self, path: Path) -> Job:
        """Read the job document at ``path`` within the input limits, then :meth:`load` it."""
        return self.load(read_document(path))

    def dump(self, job: Job) -> dict[str, object]:
        """The JSON document of ``job`` (fields at their defaults omitted)."""
        document: dict[str, object] = self.converter.unstructure(job, type(job))
        return document


def load_job(document: Mapping[str, object], sections: SectionKinds | None = None) -> Job:
    """Load a job from parsed JSON with the given plugin sections (none by default)."""
    return SpecLoader(sections or {}).load(document)


def read_job(path: Path, sections: SectionKinds | None = None) -> Job:
    """Read and load the job document at ``path``."""
    return SpecLoader(sections or {}).read(path)

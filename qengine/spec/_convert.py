"""The one strict converter between job-spec JSON and the frozen spec classes.

Strict means: unknown keys are errors, a string is never coerced from a number (nor an array
from a string), every constrained scalar is checked, and ``kind`` picks the class of a tagged
section. Errors are collected per field by cattrs' detailed validation and flattened by
:func:`issues_from` into ``$.path: message`` issues, so a user sees every problem at once.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from qengine._errors import SpecIssue
from qengine.spec._common import SecretRef
from qengine.spec._job import JobBase
from qengine.spec._scalars import SCALARS, ScalarRule
from qengine.spec._sections import SECTION_BASES, PluginSection
from qengine.spec._services import SERVICE_KINDS, Service
from qengine.spec._suggest import closest, did_you_mean
from qengine.spec._values import HelmValues, ValueTreeError

T = TypeVar("T")

# Attribute names that differ from their JSON key.
JSON_NAMES = {"api_version": "apiVersion"}

_KEY_NOTE = "Structuring mapping key @ key "

SectionKinds = Mapping[type[PluginSection], Mapping[str, type[PluginSection]]]
"""For each section base class, the classes that plugins registered, by ``kind``."""


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _strict_str(value: object, cl: object) -> object:
    if isinstance(cl, type) and issubclass(cl, enum.Enum):
        return _structure_enum(value, cl)
    if not isinstance(value, str):
        raise TypeError(f"must be a string, not {_type_name(value)}")
    return value


def _strict_int(value: object, _: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be an integer, not {_type_name(value)}")
    return value


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, not {_type_name(value)}")
    return float(value)


def _strict_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, not {_type_name(value)}")
    return value


def _scalar_hook(rule: ScalarRule) -> Callable[[object, object], object]:
    base = _strict_int if rule.base is int else _strict_str

    def structure(value: object, _: object) -> object:
        checked = base(value, rule.base)
        problem = rule.check(checked)
        if problem is not None:
            raise ValueError(problem)
        return checked

    return structure


def _structure_literal(value: object, cl: Any) -> object:
    allowed = typing.get_args(cl)
    if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
        words = [a for a in allowed if isinstance(a, str)]
        raise ValueError(
            f"must be {' or '.join(repr(a) for a in allowed)}{did_you_mean(value, words)}"
        )
    return value


def _structure_enum(value: object, cl: Any) -> object:
    try:
        return cl(value)
    except ValueError:
        values = [str(member.value) for member in cl]
        allowed = ", ".join(map(repr, values))
        raise ValueError(f"must be one of {allowed}{did_you_mean(value, values)}") from None


def _tagged(
    converter: cattrs.Converter, kinds: Mapping[str, type[T]], what: str
) -> Callable[[object, object], T]:
    def structure(value: object, _: object) -> T:
        if not isinstance(value, Mapping):
            raise TypeError(f"must be an object, not {_type_name(value)}")
        known = ", ".join(sorted(kinds)) or "none installed"
        kind = value.get("kind")
        if kind is None:
            raise ValueError(f"needs a 'kind' ({what}: {known})")
        if kind not in kinds:
            hint = did_you_mean(kind, kinds)
            raise ValueError(f"has an unknown {what} kind {kind!r}{hint}; known: {known}")
        return converter.structure(value, kinds[kind])

    return structure


def _is_literal(cl: Any) -> bool:
    return typing.get_origin(cl) is Literal


def _is_tuple(cl: Any) -> bool:
    return typing.get_origin(cl) is tuple


def _is_mapping(cl: Any) -> bool:
    return typing.get_origin(cl) is Mapping


def _tuple_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[object, Any], Any]]:
    def factory(cl: Any) -> Callable[[object, Any], Any]:
        item = typing.get_args(cl)[0]

        def structure(value: object, _: object) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise TypeError(f"must be an array, not {_type_name(value)}")
            return tuple(converter.structure(value, list[item]))  # type: ignore[valid-type]

        return structure

    return factory


def _mapping_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[object, Any], Any]]:
    def factory(cl: Any) -> Callable[[object, Any], Any]:
        key, item = typing.get_args(cl)

        def structure(value: object, _: object) -> dict[Any, Any]:
            if not isinstance(value, dict):
                raise TypeError(f"must be an object, not {_type_name(value)}")
            return converter.structure(value, dict[key, item])  # type: ignore[valid-type]

        return structure

    return factory


def _structure_value(converter: cattrs.Converter) -> Callable[[object, object], object]:
    def structure(value: object, _: object) -> object:
        if isinstance(value, dict):
            return converter.structure(value, SecretRef)
        if isinstance(value, str):
            return value
        raise TypeError(
            f'must be a string or a secret reference {{"secret": "name"}}, not {_type_name(value)}'
        )

    return structure


def _renames(cl: Any) -> dict[str, Any]:
    if isinstance(cl, type) and issubclass(cl, JobBase):
        return {name: override(rename=key) for name, key in JSON_NAMES.items()}
    return {}


def _attrs_hooks(converter: cattrs.Converter) -> None:
    def structure_factory(cl: Any) -> Any:
        return make_dict_structure_fn(cl, converter, _cattrs_forbid_extra_keys=True, **_renames(cl))

    def unstructure_factory(cl: Any) -> Any:
        return make_dict_unstructure_fn(cl, converter, _cattrs_omit_if_default=True, **_renames(cl))

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)


def _identity(base: type) -> Callable[[Any], bool]:
    return lambda cl: cl is base


def _unstructure_by_own_type(converter: cattrs.Converter) -> Callable[[Any], Any]:
    return lambda value: converter.unstructure(value, type(value))


def make_converter(sections: SectionKinds | None = None) -> cattrs.Converter:
    """Build the strict converter for the spec, knowing the plugin sections in ``sections``."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # Function hooks registered later take precedence: the generic attrs factory goes first so
    # that the tagged-section hooks below win for the section base classes.
    _attrs_hooks(converter)
    for strict_type, hook in (
        (str, _strict_str),
        (int, _strict_int),
        (float, _strict_float),
        (bool, _strict_bool),
    ):
        converter.register_structure_hook(strict_type, hook)
    for scalar, rule in SCALARS.items():
        converter.register_structure_hook(scalar, _scalar_hook(rule))
    converter.register_structure_hook_func(_is_literal, _structure_literal)
    converter.register_structure_hook_factory(_is_tuple, _tuple_factory(converter))
    converter.register_structure_hook_factory(_is_mapping, _mapping_factory(converter))
    converter.register_structure_hook(str | SecretRef, _structure_value(converter))
    converter.register_structure_hook(HelmValues, lambda value, _: HelmValues.parse(value))
    converter.register_unstructure_hook(HelmValues, lambda values: values.to_json())
    converter.register_structure_hook(Service, _tagged(converter, SERVICE_KINDS, "service"))
    for base in SECTION_BASES:
        kinds = (sections or {}).get(base, {})  # not copied: a plugin's class loads on first use
        is_base = _identity(base)
        converter.register_structure_hook_func(is_base, _tagged(converter, kinds, base.family))
        converter.register_unstructure_hook_func(is_base, _unstructure_by_own_type(converter))
    return converter


def issues_from(exc: BaseException, path: str = "$") -> Iterator[SpecIssue]:
    """Flatten a structuring error (cattrs' exception groups) into ``$.path`` issues."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without_notes = exc.group_exceptions()
        # A misspelt key and the missing field it was meant to be are one problem: the
        # misspelling is reported with its correction, the "is required" left out.
        meant = {
            f"{path}.{field}": key
            for sub in without_notes
            if isinstance(sub, ForbiddenExtraKeysError)
            for key, field in _corrections(sub).items()
        }
        for sub, note in with_notes:
            if not (isinstance(sub, KeyError) and path + _step(note) in meant):
                yield from issues_from(sub, path + _step(note))
        for sub in without_notes:
            yield from issues_from(sub, path + _key_from_notes(sub))
    elif isinstance(exc, ForbiddenExtraKeysError):
        corrections = _corrections(exc)
        for key in sorted(exc.extra_fields):
            hint = f" (did you mean {corrections[key]!r}?)" if key in corrections else ""
            yield SpecIssue(f"{path}.{key}", f"is not a known field{hint}")
    elif isinstance(exc, ValueTreeError):
        for relative, message in exc.problems:
            yield SpecIssue(path + relative, message)
    elif isinstance(exc, KeyError):
        yield SpecIssue(path, "is required")
    elif isinstance(exc, ValueError | TypeError):
        yield SpecIssue(path, str(exc))
    else:
        yield SpecIssue(path, f"is invalid ({type(exc).__name__})")


_MAX_CORRECTED_KEYS = 5


def _corrections(exc: ForbiddenExtraKeysError) -> dict[str, str]:
    """The fields of the class that a few of its unknown keys most likely misspell."""
    if not attrs.has(exc.cl):
        return {}
    fields = [JSON_NAMES.get(f.name, f.name) for f in attrs.fields(exc.cl)]
    unknown = sorted(exc.extra_fields)[:_MAX_CORRECTED_KEYS]
    found = {key: closest(key, fields) for key in unknown}
    return {key: field for key, field in found.items() if field is not None}


def _key_from_notes(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, str) and note.startswith(_KEY_NOTE):
            return "." + note.removeprefix(_KEY_NOTE).strip("'\"")
    return ""


def _step(note: object) -> str:
    if isinstance(note, AttributeValidationNote):
        return "." + JSON_NAMES.get(note.name, note.name)
    if isinstance(note, IterableValidationNote):
        index = note.index
        return f"[{index}]" if isinstance(index, int) else f".{index}"
    return ""

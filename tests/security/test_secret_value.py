"""SecretValue never shows its value, compares in constant time, and cannot be pickled."""

from __future__ import annotations

import copy
import pickle

import pytest

from qengine.secrets.value import SecretValue


def test_repr_str_and_format_hide_the_value() -> None:
    value = SecretValue("hunter2")
    shown = [repr(value), str(value), f"{value}", f"{value!r}", f"{value:>20}", f"{value}"]
    assert all("hunter2" not in text for text in shown)
    assert repr(value) == "SecretValue('***')"
    assert str([value]) == "[SecretValue('***')]"


def test_reveal_returns_the_value() -> None:
    assert SecretValue("hunter2").reveal() == "hunter2"


def test_equality_compares_values_and_is_unhashable() -> None:
    assert SecretValue("a") == SecretValue("a")
    assert SecretValue("a") != SecretValue("b")
    assert SecretValue("a") != "a"
    with pytest.raises(TypeError):
        hash(SecretValue("a"))


def test_cannot_be_pickled_or_deep_copied_into_a_pickle() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(SecretValue("hunter2"))
    with pytest.raises(TypeError):
        copy.deepcopy(SecretValue("hunter2"))


def test_exception_holding_a_secret_value_does_not_show_it() -> None:
    error = ValueError("bad credential", SecretValue("hunter2"))
    assert "hunter2" not in str(error)
    assert "hunter2" not in repr(error)


def test_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        SecretValue(b"bytes")  # type: ignore[arg-type]

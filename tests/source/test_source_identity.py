"""Image tags are content hashes; image references are checked before use."""

from __future__ import annotations

import pytest

from qengine._errors import InvalidInputError
from qengine.secrets.value import SecretValue
from qengine.source import image_tag, parse_image

SHA = "0123456789abcdef0123456789abcdef01234567"


def _tag(**changes: object) -> str:
    inputs: dict[str, object] = {
        "commit": SHA,
        "dockerfile": "Dockerfile",
        "build_args": {"MODE": "prod", "TOKEN": SecretValue("s3cret-value")},
        "target": None,
        "platform": "linux/amd64",
    }
    inputs.update(changes)
    return image_tag(**inputs)  # type: ignore[arg-type]


def test_identical_inputs_give_the_same_tag() -> None:
    assert _tag() == _tag()
    assert _tag().startswith("qe-0123456789ab-")


@pytest.mark.parametrize(
    "change",
    [
        {"commit": "f" * 40},
        {"dockerfile": "sub/Dockerfile"},
        {"build_args": {"MODE": "dev", "TOKEN": SecretValue("s3cret-value")}},
        {"build_args": {"MODE": "prod", "TOKEN": SecretValue("other")}},
        {"build_args": {"MODE": "prod"}},
        {"target": "runtime"},
        {"platform": "linux/arm64"},
    ],
)
def test_every_input_changes_the_tag(change: dict[str, object]) -> None:
    assert _tag(**change) != _tag()


def test_values_do_not_show_in_the_tag() -> None:
    assert "s3cret" not in _tag()
    assert "prod" not in _tag()


def test_image_references() -> None:
    name = parse_image("127.0.0.1:5000/team/app:1.2")
    assert (name.host, name.repository, name.tag) == ("127.0.0.1:5000", "team/app", "1.2")
    assert str(name.with_tag("x")) == "127.0.0.1:5000/team/app:x"
    assert parse_image("library/busybox").host == "docker.io"
    digest = "sha256:" + "a" * 64
    assert parse_image(f"r.example.com/a@{digest}").digest == digest
    for bad in ("127.0.0.1:5000/Team/App:1", "app:bad tag", "a//b", ""):
        with pytest.raises(InvalidInputError) as info:
            parse_image(bad)
        assert info.value.hint
    with pytest.raises(InvalidInputError) as info:
        parse_image("127.0.0.1:5000/MyApp")
    assert "lower case" in (info.value.hint or "")

"""Values reach buildah as ``--flag=value`` or after ``--``: none is ever read as a flag.

The request is built directly (validation already refuses a target starting with ``-``) to
show the command line holds even when a value would look like a flag, with the real buildah.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from qengine_buildah.backend import BuildahBackend, _bud_argv

from qengine import BuildError
from qengine.plugin import BuildRequest, CancelToken, RegistryCredentials
from qengine.testing.registry import LocalRegistry

NO_AUTH = RegistryCredentials(server="", username="", password="")


def _request(context: Path, image: str, **extra: object) -> BuildRequest:
    values: dict[str, object] = {
        "context": context,
        "dockerfile": context / "Dockerfile",
        "image": image,
        "tls_verify": False,
    }
    values.update(extra)
    return BuildRequest(**values)  # type: ignore[arg-type]


def test_buildah_spec_values_are_attached_or_after_the_separator(tmp_path: Path) -> None:
    request = _request(
        tmp_path,
        "registry.local/app:1",
        build_args={"MODE": "--squash"},
        target="-q",
        platform="--all-platforms",
        cache_from="--rm",
        cache_to="-v",
    )
    argv = _bud_argv(request, [], [], layers=False)
    separator = argv.index("--")
    assert argv[separator + 1 :] == [str(tmp_path)]
    for word in argv[1:separator]:
        assert word.startswith("--"), word
    for value in ("-q", "--all-platforms", "--rm", "-v", "MODE=--squash"):
        assert value not in argv
    assert "--target=-q" in argv


def test_buildah_reads_a_dash_target_as_a_stage_name(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base_image} AS final\n")
    request = _request(context, f"{plain_registry.host}/apps/dash:v1", target="-q")
    lines: list[str] = []
    with pytest.raises(BuildError):
        BuildahBackend().build_and_push(request, NO_AUTH, CancelToken(), lines.append)
    # Read as the name of a stage that does not exist, not as --quiet.
    assert any("-q" in line and "target" in line.lower() for line in lines), lines

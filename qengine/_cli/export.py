"""``qengine export SPEC --out-dir DIR``: the job's blueprints, usable without qengine."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from qengine._cli.common import add_path_option, plugin_set, print_json, read_spec_document
from qengine._errors import InvalidInputError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``export``."""
    parser = subparsers.add_parser(
        "export",
        help="write a job's blueprints (Terraform, charts, manifests) to a directory",
        description="Write what the plugins contribute as blueprints of the job, plus the job "
        "itself without its sealed secrets. Secret values never appear: references stay "
        "references.",
    )
    parser.add_argument("spec", help="the job spec file (JSON), or - for standard input")
    add_path_option(
        parser,
        "--out-dir",
        metavar="DIR",
        help="directory to write (created; must be empty if it exists)",
        old=("--output-dir",),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export; 0 when written."""
    document = read_spec_document(args.spec)
    plugins = plugin_set(args)
    job = plugins.loader.load(document)
    directory: pathlib.Path = args.out_dir
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInputError(f"{directory} is not empty", hint="Export into a new directory.")
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    written = [
        path
        for paths in plugins.manager.hook.qengine_export(job=job, directory=directory)
        if paths
        for path in paths
    ]
    public = {k: v for k, v in document.items() if k not in ("secrets", "signature")}
    (directory / "job.json").write_text(json.dumps(public, indent=2) + "\n")
    (directory / "README.md").write_text(_readme(job.id, written))
    if not written:
        print(
            "warning: no installed plugin exports blueprints for this job yet; only the job "
            "itself was written",
            file=sys.stderr,
        )
    if args.output == "json":
        files = ["job.json", "README.md", *written]
        print_json({"ok": True, "job_id": job.id, "directory": str(directory), "files": files})
    else:
        print(f"exported {job.id} to {directory} ({len(written) + 2} files)")
    return 0


def _readme(job_id: str, written: list[str]) -> str:
    lines = [
        f"# Blueprints of job {job_id}",
        "",
        "`job.json` is the job without its sealed secrets; secret references are kept as",
        '`{"secret": "name"}` placeholders to be filled in by whoever applies these files.',
        "",
    ]
    if written:
        lines += ["Files written by the plugins:", "", *(f"- `{path}`" for path in written)]
    else:
        lines += ["No installed plugin contributed blueprints for this job."]
    return "\n".join(lines) + "\n"

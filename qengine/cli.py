"""The ``qengine`` command line, for hosts and tests that run it in-process.

``main(["run", "job.json", "--sandbox"])`` runs the command as the ``qengine`` executable
would and returns its exit code (see the README's table); it never calls ``sys.exit``.
"""

from qengine._cli.main import build_parser, main

__all__ = ["build_parser", "main"]

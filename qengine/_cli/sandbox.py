"""``qengine sandbox kube``: run the Kubernetes API simulator in the foreground.

Prints exactly one line when it is ready (with the URL and kubeconfig path), then serves
until SIGINT or SIGTERM, and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from qengine._errors import InvalidInputError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sandbox`` and its ``kube`` sub-command."""
    parser = subparsers.add_parser(
        "sandbox", help="run local stand-ins for the systems qengine drives"
    )
    kinds = parser.add_subparsers(dest="sandbox_kind", required=True)
    kube = kinds.add_parser("kube", help="run the Kubernetes API simulator in the foreground")
    kube.add_argument(
        "--kubeconfig", required=True, type=Path, help="where to write the kubeconfig (0600)"
    )
    kube.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    kube.add_argument(
        "--readiness-delay", type=float, default=1.0, help="seconds until a started pod is Ready"
    )
    kube.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop."""
    from qengine.testing.kube import KubeSimulator

    if not 0 <= args.port <= 65535:
        raise InvalidInputError(
            f"--port {args.port} is not a TCP port", hint="use 0 for a free port, or 1-65535"
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sim = KubeSimulator(
            port=args.port, kubeconfig_path=args.kubeconfig, readiness_delay=args.readiness_delay
        )
        try:
            sim.start()
        except OSError as exc:
            raise InvalidInputError(
                f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror}",
                hint="choose another --port, or 0",
            ) from exc
        try:
            print(
                f"kube simulator ready at {sim.url} (kubeconfig: {sim.kubeconfig_path})", flush=True
            )
            while not stop.wait(0.2):
                pass
        finally:
            sim.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m qengine._cli.sandbox kube ...``) until the CLI wires it."""
    parser = argparse.ArgumentParser(prog="qengine")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

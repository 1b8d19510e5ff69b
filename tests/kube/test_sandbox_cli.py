"""``qengine sandbox kube``: one ready line, serves, stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import qengine._cli.sandbox as sandbox
from qengine._errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]


def _start(kubeconfig: Path) -> subprocess.Popen[str]:
    code = "import sys; from qengine._cli.sandbox import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "sandbox", "kube", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sandbox_kube_serves_until_signalled(tmp_path: Path, sig: signal.Signals) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with _start(kubeconfig) as proc:
        _check_serving(proc, kubeconfig, sig)


def _check_serving(proc: subprocess.Popen[str], kubeconfig: Path, sig: signal.Signals) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("kube simulator ready at https://127.0.0.1:")
        config = json.loads(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]["server"]
        assert server in line
        with urllib.request.urlopen(
            server + "/healthz", context=ssl._create_unverified_context(), timeout=5
        ) as resp:
            assert resp.read() == b"ok"
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sandbox_rejects_a_bad_port(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    sandbox.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["sandbox", "kube", "--kubeconfig", str(tmp_path / "k"), "--port", "70000"]
    )
    with pytest.raises(InvalidInputError) as info:
        args.func(args)
    assert info.value.exit_code == 2
    assert "--port" in info.value.message
    assert info.value.hint


def test_sandbox_reports_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        parser = argparse.ArgumentParser()
        sandbox.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(
            ["sandbox", "kube", "--kubeconfig", str(tmp_path / "k"), "--port", str(port)]
        )
        with pytest.raises(InvalidInputError) as info:
            args.func(args)
    assert str(port) in info.value.message
    assert not (tmp_path / "k").exists()

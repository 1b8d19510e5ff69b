"""The connection to a cluster, read from kubeconfigs as kubectl reads them, and its transport:
against the simulator over HTTPS, and a local HTTPS server that requires a client certificate.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import ssl
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from qengine_kubernetes.access import connect, direct_connection
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.helm_release import kubeconfig_of
from qengine_kubernetes.kubeconfig import read_kubeconfig
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget
from qengine_kubernetes.transport import Transport

from qengine import AuthError, InfrastructureError, InvalidInputError
from qengine.testing.kube import KubeSimulator


def _ca(sim: KubeSimulator) -> bytes:
    ca = sim.ca_pem
    return ca if isinstance(ca, bytes) else ca.encode()


def _kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def _client(path: Path) -> KubeApi:
    return connect(KubeconfigTarget(kind="kubeconfig", path=str(path)), KubeSettings(), {})


_PROBE = """
import json, sys
from qengine_kubernetes.access import connect
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget
api = connect(KubeconfigTarget(kind="kubeconfig", path=sys.argv[1]), KubeSettings(), {})
assert api.get("Namespace", None, "default") is not None
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_k8s_a_token_kubeconfig_needs_neither_the_library_nor_its_loaders_imports(
    k8s_sim: KubeSimulator,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(k8s_sim.kubeconfig_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert "urllib3" in loaded  # the probe did reach the cluster through the transport
    assert not loaded & {"kubernetes", "requests", "oauthlib", "google", "pydantic", "dateutil"}


def test_k8s_relative_files_and_a_rotated_token_file_are_read_as_kubectl_reads_them(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    (tmp_path / "ca.pem").write_bytes(_ca(k8s_sim))
    (tmp_path / "token").write_text(k8s_sim.token + "\n")
    path = _kubeconfig(
        tmp_path / "config",
        {"server": k8s_sim.url, "certificate-authority": "ca.pem"},
        {"tokenFile": "token"},
    )
    api = _client(path)
    assert api.get("Namespace", None, "default") is not None

    (tmp_path / "token").write_text("revoked")
    with pytest.raises(AuthError, match="401"):
        api.get("Namespace", None, "default")
    (tmp_path / "token").write_text(k8s_sim.token)  # rotated: the next request reads it
    assert api.get("Namespace", None, "default") is not None


def test_k8s_an_exec_plugin_is_run_by_the_official_loader_and_its_token_used(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    plugin = tmp_path / "credential.py"
    plugin.write_text(
        "import json, pathlib, sys\n"
        f"pathlib.Path({str(calls)!r}).open('a').write('x')\n"
        "json.dump({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        " 'kind': 'ExecCredential',"
        f" 'status': {{'token': {k8s_sim.token!r}}}}}, sys.stdout)\n"
    )
    ca = base64.b64encode(_ca(k8s_sim)).decode()
    path = _kubeconfig(
        tmp_path / "config",
        {"server": k8s_sim.url, "certificate-authority-data": ca},
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": sys.executable,
                "args": [str(plugin)],
                "interactiveMode": "Never",
            }
        },
    )
    api = _client(path)
    assert api.get("Namespace", None, "default") is not None
    assert calls.read_text()  # the plugin ran: the token came from it


# urllib3 warns of every unverified request, as it did under the official client.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_k8s_insecure_skip_tls_verify_and_a_wrong_ca(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    insecure = _kubeconfig(
        tmp_path / "insecure",
        {"server": k8s_sim.url, "insecure-skip-tls-verify": True},
        {"token": k8s_sim.token},
    )
    assert _client(insecure).get("Namespace", None, "default") is not None
    # A CA the server's certificate does not chain to: the request fails, it is not trusted.
    other = _kubeconfig(
        tmp_path / "other",
        {"server": k8s_sim.url, "certificate-authority-data": _pem_b64(_make_ca()[0])},
        {"token": k8s_sim.token},
    )
    api = _client(other)
    api.retry = api.retry.__class__(max_attempts=1, max_elapsed_seconds=1.0)
    with pytest.raises(InfrastructureError, match=r"SSLError.*gave up"):
        api.get("Namespace", None, "default")


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        ({}, {"token": "t"}, "has no server"),
        ({"server": "https://127.0.0.1:1"}, {"client-certificate-data": "eA=="}, "alone"),
        ({"server": "https://127.0.0.1:1"}, {"token": "t", "as": "admin"}, "impersonates"),
        (
            {"server": "https://127.0.0.1:1", "certificate-authority-data": "%%%"},
            {"token": "t"},
            "not base64",
        ),
        ({"server": "https://127.0.0.1:1"}, {"tokenFile": "absent"}, "tokenFile"),
        (
            {"server": "https://127.0.0.1:1", "certificate-authority": "absent.pem"},
            {"token": "t"},
            "certificate-authority",
        ),
    ],
)
def test_k8s_a_kubeconfig_that_cannot_be_used_is_an_input_error_naming_why(
    tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], message: str
) -> None:
    path = _kubeconfig(tmp_path / "config", cluster, user)
    with pytest.raises(InvalidInputError, match=f"cannot use the kubeconfig {path}: .*{message}"):
        _client(path)


def test_k8s_a_kubeconfig_that_is_not_yaml_is_refused_without_quoting_its_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config"
    path.write_text("users:\n- name: u\n  user:\n    token: s3cr3t-token: oops\n")
    with pytest.raises(InvalidInputError, match="not YAML at line 4, column 24") as raised:
        _client(path)
    assert "s3cr3t" not in str(raised.value)
    # A traceback (a host's logger) would not show the parser's message either.
    text = "".join(traceback.format_exception(raised.value))
    assert "s3cr3t" not in text


def test_k8s_the_kubeconfig_written_for_helm_describes_the_same_connection(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    api = KubeApi(Transport(direct_connection(k8s_sim.url, _ca(k8s_sim), k8s_sim.token)))
    written = tmp_path / "helm-kubeconfig"
    written.write_text(kubeconfig_of(api))
    again = read_kubeconfig(str(written))
    assert (again.server, again.ca_pem, again.bearer_token()) == (
        k8s_sim.url,
        _ca(k8s_sim),
        k8s_sim.token,
    )
    assert _client(written).get("Namespace", None, "default") is not None


# -- a client certificate --------------------------------------------------------------------


def _make_ca() -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("test-client-ca", "test-client-ca", key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key


def _builder(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _pem_b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


@pytest.fixture
def mtls_server(tmp_path: Path) -> Iterator[tuple[str, bytes, bytes, bytes]]:
    """An HTTPS server on 127.0.0.1 that answers only clients with a certificate of its client
    CA, naming the client's common name: (url, server CA, client cert, client key)."""
    from qengine.testing.kube.certs import generate

    serving = generate()
    client_ca, client_ca_key = _make_ca()
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        _builder("system:admin-by-cert", "test-client-ca", client_key)
        .sign(client_ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    key_pem = client_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "srv.pem").write_bytes(serving.cert_pem)
    (tmp_path / "srv.key").write_bytes(serving.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    context.load_verify_locations(cadata=client_ca.decode())
    context.verify_mode = ssl.CERT_REQUIRED

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            subject = dict(pair[0] for pair in peer["subject"])
            body = json.dumps({"kind": "Namespace", "metadata": {"name": subject["commonName"]}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        yield url, serving.ca_pem, client_cert, key_pem
    finally:
        server.shutdown()
        server.server_close()


def test_k8s_a_client_certificate_authenticates_without_touching_the_disk(
    mtls_server: tuple[str, bytes, bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca, cert, key = mtls_server
    path = _kubeconfig(
        tmp_path / "config",
        {"server": url, "certificate-authority-data": _pem_b64(ca)},
        {"client-certificate-data": _pem_b64(cert), "client-key-data": _pem_b64(key)},
    )

    def no_disk(*args: object, **kwargs: object) -> None:
        raise AssertionError("the client key was about to be copied to a temporary file")

    monkeypatch.setattr(tempfile, "mkdtemp", no_disk)
    monkeypatch.setattr(tempfile, "mkstemp", no_disk)
    api = _client(path)
    assert api.request("GET", "/api/v1/namespaces/x")["metadata"]["name"] == "system:admin-by-cert"

    # The kubeconfig written for helm carries the same certificate, inline.
    written = tmp_path / "helm"
    written.write_text(kubeconfig_of(api))
    assert _client(written).request("GET", "/api/v1/namespaces/x")["metadata"]["name"] == (
        "system:admin-by-cert"
    )

    # Without it the server refuses the handshake: the certificate is what authenticated.
    bare = _kubeconfig(
        tmp_path / "bare", {"server": url, "certificate-authority-data": _pem_b64(ca)}, {}
    )
    anonymous = _client(bare)
    anonymous.retry = anonymous.retry.__class__(max_attempts=1, max_elapsed_seconds=1.0)
    with pytest.raises(InfrastructureError, match="gave up"):
        anonymous.request("GET", "/api/v1/namespaces/x")

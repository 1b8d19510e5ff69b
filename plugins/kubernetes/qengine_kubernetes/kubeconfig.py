"""Connections from a kubeconfig file, from a pod's service account, or from the official
client's loader (see :mod:`qengine_kubernetes.transport` for which is used when).

The fields read are ``kubectl``'s: a context's ``cluster`` and ``user``; a cluster's
``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
``tls-server-name`` and ``proxy-url``; a user's ``client-certificate(-data)``,
``client-key(-data)``, ``token``, ``tokenFile``, ``username`` and ``password``. A user that
runs ``exec`` or names an ``auth-provider`` is handed to the library's loader. Impersonation
(``as``, ``as-groups``, ...) is refused rather than ignored. Only the first file of a
``KUBECONFIG`` list is read (see :func:`qengine_kubernetes.access.kubeconfig_path`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qengine.plugin import AuthError, InvalidInputError
from qengine_kubernetes.transport import Connection, TokenFile, bearer

_DELEGATED = ("exec", "auth-provider")
_IMPERSONATION = ("as", "as-uid", "as-groups", "as-user-extra")


class KubeconfigError(InvalidInputError):
    """A kubeconfig that cannot be used, and why."""


def read_kubeconfig(path: str, context: str | None = None) -> Connection:
    """The connection that ``context`` (else the current context) of the kubeconfig at
    ``path`` describes."""
    try:
        return _read(Path(path), context)
    except KubeconfigError as exc:
        raise InvalidInputError(
            f"cannot use the kubeconfig {path}: {exc}",
            hint="Give a readable kubeconfig and an existing context.",
        ) from exc


def _read(path: Path, context: str | None) -> Connection:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(str(exc)) from exc
    document = _parsed(text)
    if not isinstance(document, dict):
        raise KubeconfigError("not a kubeconfig (no mapping at its top)")
    name = context or document.get("current-context")
    if not name:
        raise KubeconfigError("no context given and no current-context set")
    chosen = _entry(document, "contexts", "context", name)
    user = _entry(document, "users", "user", chosen.get("user")) if chosen.get("user") else {}
    if any(key in user for key in _DELEGATED):
        return library_connection(str(path), name)
    given = [key for key in _IMPERSONATION if user.get(key)]
    if given:
        raise KubeconfigError(
            f"the user of context {name!r} impersonates ({', '.join(given)}): not supported"
        )
    cluster = _entry(document, "clusters", "cluster", chosen.get("cluster"))
    base = path.parent
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f"the cluster of context {name!r} has no server")
    ca = _data_or_file(cluster, "certificate-authority", base)
    cert = _data_or_file(user, "client-certificate", base)
    key = _data_or_file(user, "client-key", base)
    if (cert is None) != (key is None):
        raise KubeconfigError(f"the user of context {name!r} has a client certificate or key alone")
    return Connection(
        server=server.rstrip("/"),
        ca_pem=ca,
        verify=not cluster.get("insecure-skip-tls-verify", False),
        tls_server_name=cluster.get("tls-server-name") or None,
        client_cert=(cert, key) if cert is not None and key is not None else None,
        authorization=_authorization(user, base, name),
        proxy=cluster.get("proxy-url") or None,
    )


def _parsed(text: str) -> Any:
    """The kubeconfig's document: JSON (which tools write too, and which is YAML) is read
    without importing the YAML parser."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # YAML's flow style, read below
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        # Only where and what: the parser's own message quotes the offending line, which may
        # hold a token or a password.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not a YAML document"
        raise KubeconfigError(f"not YAML{where}: {problem}") from None


def _entry(document: Mapping[str, Any], section: str, field: str, name: object) -> Any:
    for item in document.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            found = item.get(field) or {}
            if not isinstance(found, dict):
                raise KubeconfigError(f"the {field} {name!r} is not a mapping")
            return found
    raise KubeconfigError(f"{field} {name!r} not found")


def _data_or_file(entry: Mapping[str, Any], field: str, base: Path) -> bytes | None:
    data = entry.get(f"{field}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeconfigError(f"{field}-data is not base64") from exc
    named = entry.get(field)
    if not named:
        return None
    try:
        return (base / str(named)).read_bytes()
    except OSError as exc:
        raise KubeconfigError(f"{field}: {exc}") from exc


def _authorization(user: Mapping[str, Any], base: Path, context: str) -> Any:
    if user.get("tokenFile"):
        try:
            return TokenFile(base / str(user["tokenFile"]))
        except (OSError, AuthError) as exc:
            raise KubeconfigError(f"tokenFile: {exc}") from exc
    if user.get("token"):
        return bearer(str(user["token"]))
    if user.get("username") is not None and user.get("password") is not None:
        pair = f"{user['username']}:{user['password']}".encode()
        header = "Basic " + base64.b64encode(pair).decode()
        return lambda: header
    return lambda: None


def library_connection(path: str, context: str | None) -> Connection:
    """The connection the official client's loader makes of the kubeconfig (exec plugins and
    auth providers): it refreshes the credential itself, asked before each request."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (config.ConfigException, OSError) as exc:
        raise KubeconfigError(str(exc)) from exc
    return from_configuration(configuration)


def from_configuration(configuration: Any) -> Connection:
    """A connection from a ``kubernetes.client.Configuration`` that a loader filled."""

    def read(name: str | None) -> bytes | None:
        return Path(name).read_bytes() if name else None

    cert, key = read(configuration.cert_file), read(configuration.key_file)
    lock = threading.Lock()  # the steps' threads share it: one exec plugin run at a time

    def authorization() -> str | None:
        with lock:
            value: str | None = configuration.get_api_key_with_prefix(
                "BearerToken", alias="authorization"
            )
        return value

    return Connection(
        server=str(configuration.host).rstrip("/"),
        ca_pem=read(configuration.ssl_ca_cert),
        verify=bool(configuration.verify_ssl),
        tls_server_name=getattr(configuration, "tls_server_name", None) or None,
        client_cert=(cert, key) if cert is not None and key is not None else None,
        authorization=authorization,
        proxy=configuration.proxy or None,
    )


def in_cluster(environ: Mapping[str, str], directory: Path) -> Connection:
    """The connection of a pod: ``KUBERNETES_SERVICE_HOST``/``_PORT``, the service account's
    CA and token in ``directory`` (the token re-read when the kubelet rotates it)."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise AuthError(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and _PORT are not set",
            hint="The in-cluster target needs the pod's service account token and CA.",
        )
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name
    try:
        ca = (directory / "ca.crt").read_bytes()
        token = TokenFile(directory / "token")
    except (OSError, AuthError) as exc:
        raise AuthError(
            f"not running in a cluster: {exc}",
            hint="The in-cluster target needs the pod's service account token and CA.",
        ) from exc
    if not ca.strip():
        raise AuthError(f"not running in a cluster: {directory / 'ca.crt'} is empty")
    return Connection(server=f"https://{host}:{port}", ca_pem=ca, authorization=token)

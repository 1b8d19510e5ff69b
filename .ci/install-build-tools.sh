#!/bin/sh
# Installs what the build and registry tests need (qengine.source, plugins/oci, plugins/buildah,
# plugins/docker): git, buildah, skopeo, the Distribution registry, podman with runc (the
# Docker Engine API), OpenSSH (git over SSH), a static busybox (the base image of test builds) and htpasswd;
# PostgreSQL and Redis for the shared state store and the Celery workers (tests start their own
# throwaway servers on 127.0.0.1; the packages' own services are not used).
# tmux is the real terminal of the live console test (tests/test_console_live.py).
# Idempotent: packages already present are left alone. Fails loudly if any cannot be installed.
set -eu

PACKAGES="tmux git openssh-client openssh-server buildah skopeo docker-registry podman runc busybox-static apache2-utils postgresql redis-server"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -n "$missing" ]; then
    echo "install-build-tools: installing$missing"
    SUDO=""
    if [ "$(id -u)" != "0" ]; then
        SUDO="sudo"
    fi
    $SUDO apt-get update -q
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

for binary in tmux git ssh ssh-keygen /usr/sbin/sshd buildah skopeo docker-registry podman runc busybox htpasswd redis-server runuser; do
    if ! command -v "$binary" >/dev/null 2>&1; then
        echo "install-build-tools: $binary is still missing after the install" >&2
        exit 1
    fi
done
echo "install-build-tools: ready"

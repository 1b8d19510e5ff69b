#!/usr/bin/env bash
# Puts Azurite (the Azure Storage emulator, npm) under .tools/azurite/ and prints the path of
# its blob service launcher. Idempotent: a second run only prints the path. 3.35 is the last
# release that runs on Node 20 (3.37 needs Node 22).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
tools="$root/.tools/azurite"
blob="$tools/node_modules/.bin/azurite-blob"
if [ -x "$blob" ] && "$blob" --version >/dev/null 2>&1; then
    echo "$blob"
    exit 0
fi
mkdir -p "$tools"
npm install --silent --no-audit --no-fund --prefix "$tools" azurite@3.35 >/dev/null
"$blob" --version >/dev/null
echo "$blob"

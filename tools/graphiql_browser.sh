#!/usr/bin/env bash
# GraphiQL in headless Chromium with no network beyond loopback (tools/graphiql_browser.py):
# installs Debian's chromium when it is missing and fails, never skips, when it cannot.
# PYTHON picks the interpreter (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
if ! command -v chromium > /dev/null; then
  echo "Installing Debian's chromium for the GraphiQL browser test..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null
fi
chromium --version
"$PYTHON" tools/graphiql_browser.py --chromium "$(command -v chromium)"

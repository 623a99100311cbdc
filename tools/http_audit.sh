#!/usr/bin/env bash
# GraphQL-over-HTTP conformance: installs the npm package graphql-http into a temporary
# directory, starts `server.py` on a free port with a fresh SQLite database, and runs its
# audit with and without a token (tools/http_audit.mjs). Exits non-zero on any MUST or
# SHOULD failure. Needs node and npm; PYTHON picks the interpreter (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo '{"private": true}' > "$work/package.json"
npm install --prefix "$work" --no-audit --no-fund --silent graphql-http@1.23.1 graphql@16 >/dev/null

port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="audit-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')"
CRM_ADMIN_TOKEN="$token" "$PYTHON" server.py --port "$port" \
  --database-url "sqlite://$work/audit.sqlite3" > "$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
  sleep 0.1
done

CRM_AUDIT_TOKEN="$token" node tools/http_audit.mjs "http://127.0.0.1:$port/graphql" "$work"

#!/usr/bin/env bash
# Sets up and runs the demo city on a fresh machine: builds the web console and
# the release binary, then serves everything on http://127.0.0.1:${PORT:-8080}.
# Extra arguments go to `pingan demo` (e.g. --data-dir DIR, --osm FILE, --seed N).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "npm is needed to build the console (apt-get install nodejs npm)" >&2
  exit 1
fi
(cd web && npm ci --no-audit --no-fund && npm run build)
cargo build --release -p pingan
# --port only when PORT is set, so PINGAN_LISTEN and the config keep their say.
exec target/release/pingan demo ${PORT:+--port "$PORT"} "$@"

#!/usr/bin/env bash
# Runs every test of pingan: the Rust workspace (unit, property, store suites on
# SQLite and on a real PostgreSQL the tests start on 127.0.0.1, black-box API
# tests on loopback), then the console's unit tests and its end-to-end browser
# tests (headless Debian chromium against a real `pingan demo`).
# Needs: cargo, PostgreSQL server binaries, node/npm, chromium (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rust: cargo test --workspace"
cargo test --workspace

echo "== console: build, unit tests, browser tests"
cargo build -p pingan
cd web
npm ci --no-audit --no-fund
npm run build
npm test
npm run e2e

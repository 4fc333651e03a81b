#!/usr/bin/env bash
# Installs the systems `npm run bench` measures spool beside (bench/peers): the Redis and
# NATS servers from Debian's packages, and the peer libraries (better-sqlite3,
# classic-level, hypercore, and the Redis and NATS clients) into bench/peers/node_modules
# from its own lockfile, so that the main install and CI never carry them.
# Needs root for apt-get (or sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null || ! command -v nats-server >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nats-server
fi
# Debian starts a system Redis on 6379; the bench starts its own on a free port, so the
# system one only costs memory and CPU while measuring: stop it if it runs.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  as_root systemctl stop redis-server || true
fi

# better-sqlite3 builds from source when no prebuilt binary can be fetched (about a minute).
npm ci --prefix bench/peers --no-fund --no-audit

echo "peers installed: redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'), nats-server $(nats-server --version | sed 's/^nats-server: //'), and bench/peers/node_modules"

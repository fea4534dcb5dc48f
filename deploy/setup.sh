#!/usr/bin/env bash
# Sets up a fresh Debian machine for streamforge: system packages (FFmpeg for media; PostgreSQL,
# Redis, Chromium and Prometheus for the test suite), then npm dependencies and the TypeScript build.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
{ ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && id postgres >/dev/null 2>&1; } || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
# Prometheus and promtool: the dashboards and alert rules are evaluated against a real one in the tests.
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need+=(prometheus)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts these daemons on install; the platform and the tests run their own.
  for svc in nginx redis-server postgresql prometheus; do $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; done
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (versions pinned by package-lock.json)"
  # `npm install` rather than `npm ci`: npm 11 records only this platform's optional packages
  # (rollup's native builds) in the lock file and `npm ci` then refuses it; install honours the lock.
  npm install --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run build --silent
echo "setup: done"

#!/usr/bin/env bash
# Installs, starts and stops tansu, the Kafka-protocol broker Gig's suite runs against.
#
#   .ci/tansu.sh install          # cargo install, skipped when the right build is on PATH
#   .ci/tansu.sh start [PORT]     # memory storage on 127.0.0.1:PORT (default 19092)
#   .ci/tansu.sh start-sqlite FILE [PORT]   # durable storage, survives restarts
#   .ci/tansu.sh stop             # stops the broker started by `start`, by its PID
set -euo pipefail

TANSU_VERSION=0.6.0
STATE_DIR=${TANSU_STATE_DIR:-${TMPDIR:-/tmp}/gig-tansu}
HERE=$(cd "$(dirname "$0")" && pwd)

installed() {
  command -v tansu >/dev/null 2>&1 || return 1
  tansu --version 2>/dev/null | grep -qx "tansu $TANSU_VERSION" || return 1
  # The memory and sqlite storage engines need these features.
  python3 - "$TANSU_VERSION" <<'PY'
import json, os, sys
path = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")), ".crates2.json")
try:
    installs = json.load(open(path))["installs"]
except (OSError, KeyError, ValueError):
    sys.exit(1)
ok = any(k.startswith(f"tansu {sys.argv[1]} ") and {"dynostore", "libsql"} <= set(v["features"])
         for k, v in installs.items())
sys.exit(0 if ok else 1)
PY
}

install() {
  if installed; then
    echo "tansu $TANSU_VERSION (dynostore, libsql) already installed: $(command -v tansu)"
    return
  fi
  echo "installing tansu $TANSU_VERSION (about 8 minutes on 2 cores)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
}

start() {
  local engine=$1 port=$2
  mkdir -p "$STATE_DIR"
  stop >/dev/null 2>&1 || true
  # Loopback only: the default listener is 0.0.0.0.
  tansu broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "$engine" >"$STATE_DIR/tansu.log" 2>&1 &
  echo $! >"$STATE_DIR/tansu.pid"
  if ! python3 "$HERE/kafka-ready.py" "127.0.0.1:$port" 30; then
    cat "$STATE_DIR/tansu.log" >&2
    stop
    return 1
  fi
  echo "tansu pid $(cat "$STATE_DIR/tansu.pid") on 127.0.0.1:$port ($engine)"
}

stop() {
  [ -f "$STATE_DIR/tansu.pid" ] || return 0
  local pid
  pid=$(cat "$STATE_DIR/tansu.pid")
  rm -f "$STATE_DIR/tansu.pid"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "tansu pid $pid stopped"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "memory://tansu/" "${2:-19092}" ;;
  start-sqlite) start "sqlite://${2:?sqlite file}" "${3:-19092}" ;;
  stop) stop ;;
  *) echo "usage: $0 install|start [PORT]|start-sqlite FILE [PORT]|stop" >&2; exit 2 ;;
esac

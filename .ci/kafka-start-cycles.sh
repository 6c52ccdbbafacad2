#!/usr/bin/env bash
# Starts and stops the single Kafka node N times in a row on one port, as CI and the tests do,
# and reports each cycle's start and stop times and every failed start with its output:
# `.ci/kafka.sh start` must come up every time, not most times.
#
#   .ci/kafka-start-cycles.sh [N] [PORT]    # N defaults to 20, PORT to 19192
#   GIGCI_CYCLES_SECURE=1 .ci/kafka-start-cycles.sh ...   # and the secure node on PORT+500
#                                                       # beside it in every cycle
# The state dir is kafka.sh's (GIGCI_KAFKA_STATE_DIR); exits 1 unless every start came up.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
N=${1:-20}
PORT=${2:-19192}
SECURE=${GIGCI_CYCLES_SECURE:-0}

ms_since() {
  echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

# run NAME COMMAND...: COMMAND's time in ms on stdout; its output on stderr if it fails, and
# what it said on stderr (a port waited for, a node launched again) if it did not.
run() {
  local name=$1 t0 out err status=0
  shift
  err=$(mktemp)
  t0=$(date +%s%N)
  out=$("$@" 2>"$err") || status=$?
  if [ "$status" = 0 ]; then
    ms_since "$t0"
    [ ! -s "$err" ] || sed "s/^/  $name said: /" "$err" >&2
  else
    echo "  $name FAILED after $(ms_since "$t0") ms:" >&2
    cat "$err" - <<<"$out" | sed 's/^/    /' >&2
  fi
  rm -f "$err"
  return "$status"
}

up=0 failed="" total=0 secure_up=0 secure_total=0
for i in $(seq "$N"); do
  line="cycle $i/$N:"
  if ms=$(run start "$HERE/kafka.sh" start "$PORT"); then
    up=$((up + 1)) total=$((total + ms)) line="$line start ${ms} ms"
  else
    failed="$failed $i" line="$line start FAILED"
  fi
  if [ "$SECURE" = 1 ]; then
    if ms=$(run start-secure "$HERE/kafka.sh" start-secure $((PORT + 500))); then
      secure_up=$((secure_up + 1)) secure_total=$((secure_total + ms))
      line="$line, start-secure ${ms} ms"
    else
      failed="$failed $i(secure)" line="$line, start-secure FAILED"
    fi
  fi
  ms=$(run stop "$HERE/kafka.sh" stop) || failed="$failed $i(stop)"
  echo "$line, stop ${ms:-?} ms"
done

summary="$up of $N starts up"
[ "$up" = 0 ] || summary="$summary, mean start $((total / up)) ms"
if [ "$SECURE" = 1 ]; then
  summary="$summary; $secure_up of $N secure starts up"
  [ "$secure_up" = 0 ] || summary="$summary, mean start-secure $((secure_total / secure_up)) ms"
fi
if [ -n "$failed" ]; then
  echo "$summary; FAILED cycles:$failed" >&2
  exit 1
fi
echo "$summary"

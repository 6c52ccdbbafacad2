#!/usr/bin/env bash
# The Kafka version matrix beside the reference broker: the suite's core subset on another
# Kafka release, under the group protocols given, with Kafka's own kafka-consumer-groups
# checking the committed offsets after each. .ci/run calls it for the releases of
# docs/backends.md's table ("Kafka versions"); the reference (.ci/kafka.sh's
# REFERENCE_VERSION) runs the whole suite there instead.
#
#   .ci/kafka-matrix.sh VERSION PORT SECURE_PORT PROTOCOL...
#   .ci/kafka-matrix.sh 4.1.2 19192 19692 classic consumer
#   .ci/kafka-matrix.sh 3.9.2 19192 19692 classic      # 3.x serves the classic protocol only
#
# It installs VERSION (cached), starts a node on PORT and a secured node on SECURE_PORT (and
# SECURE_PORT + 1, controllers 100 higher) in .ci/kafka.sh's state dir (GIGCI_KAFKA_STATE_DIR),
# runs the subset once per protocol, stops the nodes, and prints one line per protocol:
# passed, failed, seconds. Exits 1 if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:?version}
PORT=${2:?port}
SECURE_PORT=${3:?secure port}
shift 3
[ $# -gt 0 ] || { echo "usage: $0 VERSION PORT SECURE_PORT PROTOCOL..." >&2; exit 2; }

# The core subset: ack routing and the commit watermark, group membership and rebalances
# (a storm of joins and leaves, a member at its in-flight limit), exactly-once (transactions,
# and SIGKILLed transactional workers), security (TLS, SASL, mutual TLS, ACLs), and the
# actix-web service. What each protocol can break in a client: joins, assignments,
# revocations, commits, transactional offsets, authentication.
SUBSET="ack_routing commit_watermark group rebalance_storm limit_rebalance transactions exactly_once_crash security web_app"

export GIGCI_KAFKA_VERSION=$VERSION
trap '.ci/kafka.sh stop >/dev/null 2>&1 || true' EXIT
.ci/kafka.sh install
.ci/kafka.sh start "$PORT"
.ci/kafka.sh start-secure "$SECURE_PORT"
export GIGCI_TEST_SECURE_ENV
GIGCI_TEST_SECURE_ENV=$(.ci/kafka.sh secure-env)

tests=()
for t in $SUBSET; do tests+=(--test "$t"); done
summary="" failed=0
for protocol in "$@"; do
  echo "--- Kafka $VERSION, $protocol group protocol: ${SUBSET// /, }"
  start=$(date +%s)
  log=$(mktemp)
  tested=ok lag=ok
  GIGCI_TEST_BROKERS="127.0.0.1:$PORT" GIGCI_TEST_BROKER_KIND=kafka \
    GIGCI_TEST_GROUP_PROTOCOL=$protocol cargo test -p gig-tests --no-fail-fast "${tests[@]}" \
    2>&1 | tee "$log" || tested=FAILED
  .ci/kafka.sh check-lag '^(eos|alo)-crash-group-' || lag=FAILED
  counts=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")
  rm -f "$log"
  [ "$tested$lag" = okok ] || failed=1
  summary="$summary$(printf 'Kafka %s %-8s tests %s (%s), LAG check %s, in %ss' "$VERSION" \
    "$protocol" "$tested" "$counts" "$lag" $(($(date +%s) - start)))\n"
done
.ci/kafka.sh stop
printf "%b" "$summary"
exit "$failed"

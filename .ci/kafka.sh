#!/usr/bin/env bash
# Installs, starts, kills and stops Apache Kafka (KRaft, no ZooKeeper): the reference broker
# Gig's suite, fault tests and benchmark are measured on.
#
#   .ci/kafka.sh install                 # the broker's jars from Maven Central into a cache
#   .ci/kafka.sh start [PORT]            # one node (broker + controller) on 127.0.0.1:PORT
#   .ci/kafka.sh start-cluster BASE_PORT # three nodes on BASE_PORT, +1, +2 (RF 3, min ISR 2)
#   .ci/kafka.sh kill NODE               # SIGKILL node 1, 2 or 3
#   .ci/kafka.sh restart NODE            # start a killed or stopped node again, same data
#   .ci/kafka.sh stop                    # every node started here, by PID
#   .ci/kafka.sh bootstrap               # the bootstrap servers of what runs now
#   .ci/kafka.sh groups ARGS...          # kafka-consumer-groups, e.g. --describe --group G
#   .ci/kafka.sh topics ARGS...          # kafka-topics, e.g. --describe --topic T
#   .ci/kafka.sh check-lag REGEX         # fails unless every group matching REGEX has LAG 0
#
# Controllers listen on the broker port + 100. Data and logs live in a fresh folder under
# $TMPDIR (node-N.log per node); nothing listens beyond loopback.
set -euo pipefail

# 4.1.1: the newest patch release of the newest 4.x line that had one when Gig adopted Kafka.
# 4.x is KRaft-only, serves the KIP-848 consumer group protocol (GA since 4.0) that the suite
# runs under beside the classic one, and runs on Java 17 (the machines' JDK).
KAFKA_VERSION=4.1.1
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${GIG_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gig/kafka-$KAFKA_VERSION}
STATE_DIR=${GIG_KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/gig-kafka}
# Three nodes and the tests share 2 cores and a few GB: a modest heap each.
HEAP=${GIG_KAFKA_HEAP:--Xms256m -Xmx768m}

install() {
  if [ -f "$CACHE/complete" ]; then
    echo "Apache Kafka $KAFKA_VERSION already installed in $CACHE"
    return
  fi
  echo "installing Apache Kafka $KAFKA_VERSION (jars from Maven Central) into $CACHE"
  rm -rf "$CACHE"
  mkdir -p "$CACHE"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$CACHE/libs"
  touch "$CACHE/complete"
  echo "installed: $(ls "$CACHE/libs" | wc -l) jars"
}

java_main() {
  local main=$1
  shift
  [ -f "$CACHE/complete" ] || { echo "Kafka is not installed: run $0 install" >&2; return 1; }
  java -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" -cp "$CACHE/libs/*" "$main" "$@"
}

# node_config ID BROKER_PORT VOTERS REPLICATION: the node's server.properties on stdout.
node_config() {
  local id=$1 port=$2 voters=$3 rf=$4 min_isr=$(( $4 > 1 ? 2 : 1 ))
  cat <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 100))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE_DIR/node-$id/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
# The coordinator looks for transactions that outlived their timeout every 100 ms (10 s by
# default), so that the test of a transaction the broker aborts runs in seconds.
transaction.abort.timed.out.transaction.cleanup.interval.ms=100
# Tests start many short-lived groups: join at once, and let both group protocols use the
# short sessions the suite asks for (the broker owns them under KIP-848).
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=2000
group.consumer.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=500
group.min.session.timeout.ms=2000
EOF
}

launch() {
  local id=$1
  # setsid: the node outlives the shell that started it, until `stop`.
  setsid java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" -cp "$CACHE/libs/*" \
    kafka.Kafka "$STATE_DIR/node-$id.properties" >>"$STATE_DIR/node-$id.log" 2>&1 </dev/null &
  echo $! >"$STATE_DIR/node-$id.pid"
}

# start_nodes COUNT BASE_PORT
start_nodes() {
  local count=$1 base=$2 voters="" cluster_id id
  [ -f "$CACHE/complete" ] || { echo "Kafka is not installed: run $0 install" >&2; return 1; }
  stop >/dev/null 2>&1 || true
  for id in $(seq "$count"); do
    for port in $((base + id - 1)) $((base + id - 1 + 100)); do
      if listening "$port"; then
        echo "127.0.0.1:$port is in use (another broker? controllers take PORT+100)" >&2
        return 1
      fi
    done
  done
  rm -rf "$STATE_DIR"
  mkdir -p "$STATE_DIR"
  for id in $(seq "$count"); do
    voters="$voters${voters:+,}$id@127.0.0.1:$((base + id - 1 + 100))"
  done
  cluster_id=$(java_main kafka.tools.StorageTool random-uuid 2>>"$STATE_DIR/format.log")
  for id in $(seq "$count"); do
    node_config "$id" $((base + id - 1)) "$voters" "$count" >"$STATE_DIR/node-$id.properties"
    java_main kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" \
      -c "$STATE_DIR/node-$id.properties" >>"$STATE_DIR/node-$id.log" 2>&1
    echo "127.0.0.1:$((base + id - 1))" >"$STATE_DIR/node-$id.address"
  done
  for id in $(seq "$count"); do launch "$id"; done
  local bootstrap
  bootstrap=$(addresses)
  echo "$bootstrap" >"$STATE_DIR/bootstrap"
  for id in $(seq "$count"); do
    if ! python3 "$HERE/kafka-ready.py" "$(cat "$STATE_DIR/node-$id.address")" 90 "$count" ||
      ! kill -0 "$(cat "$STATE_DIR/node-$id.pid")" 2>/dev/null; then
      tail -50 "$STATE_DIR/node-$id.log" >&2
      stop
      return 1
    fi
  done
  for id in $(seq "$count"); do
    echo "kafka $KAFKA_VERSION node $id pid $(cat "$STATE_DIR/node-$id.pid") on $(cat "$STATE_DIR/node-$id.address")"
  done
  echo "bootstrap servers: $bootstrap (logs: $STATE_DIR/node-*.log)"
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

addresses() {
  local out="" f
  for f in "$STATE_DIR"/node-*.address; do
    [ -f "$f" ] && out="$out${out:+,}$(cat "$f")"
  done
  echo "$out"
}

node_pid() {
  local id=$1
  [ -f "$STATE_DIR/node-$id.pid" ] || { echo "node $id was not started here" >&2; return 1; }
  cat "$STATE_DIR/node-$id.pid"
}

kill_node() {
  local id=$1 pid
  pid=$(node_pid "$id")
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "kafka node $id (pid $pid) SIGKILLed"
}

restart_node() {
  local id=$1 pid
  pid=$(node_pid "$id")
  if kill -0 "$pid" 2>/dev/null; then
    echo "node $id (pid $pid) is running; kill or stop it first" >&2
    return 1
  fi
  launch "$id"
  python3 "$HERE/kafka-ready.py" "$(cat "$STATE_DIR/node-$id.address")" 90
  echo "kafka node $id restarted, pid $(cat "$STATE_DIR/node-$id.pid")"
}

stop() {
  local f pid pids=""
  for f in "$STATE_DIR"/node-*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    rm -f "$f"
    kill "$pid" 2>/dev/null && pids="$pids $pid"
  done
  [ -n "$pids" ] || return 0
  # A controlled shutdown takes a few seconds; a node that lost its quorum may never finish.
  for _ in $(seq 150); do
    local alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -n "$alive" ] || break
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  echo "kafka stopped (pids$pids)"
}

tool() {
  local main=$1
  shift
  local bootstrap
  bootstrap=${GIG_KAFKA_BOOTSTRAP:-$(cat "$STATE_DIR/bootstrap" 2>/dev/null || true)}
  [ -n "$bootstrap" ] || { echo "no Kafka running here; set GIG_KAFKA_BOOTSTRAP" >&2; return 1; }
  java_main "$main" --bootstrap-server "$bootstrap" "$@"
}

# Kafka's own view of the committed offsets, a check foreign to Gig: every partition of every
# group whose name matches the regex must show LAG 0 (a "-" means nothing was committed).
check_lag() {
  local pattern=$1 out rows
  out=$(tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --describe --all-groups 2>/dev/null)
  rows=$(echo "$out" | awk -v re="$pattern" '$1 ~ re && $3 ~ /^[0-9]+$/')
  if [ -z "$rows" ]; then
    echo "no group matching /$pattern/ has committed offsets" >&2
    return 1
  fi
  echo "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG"
  echo "$rows" | awk '{print $1, $2, $3, $4, $5, $6}'
  if echo "$rows" | awk '$6 != "0" {bad = 1} END {exit bad ? 0 : 1}'; then
    echo "LAG is not 0 on every partition above" >&2
    return 1
  fi
  echo "LAG 0 on all $(echo "$rows" | wc -l) partition(s) of groups matching /$pattern/"
}

case "${1:-}" in
  install) install ;;
  start) start_nodes 1 "${2:-19192}" ;;
  start-cluster) start_nodes 3 "${2:?base port}" ;;
  kill) kill_node "${2:?node}" ;;
  restart) restart_node "${2:?node}" ;;
  stop) stop ;;
  bootstrap) cat "$STATE_DIR/bootstrap" ;;
  groups) shift; tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  topics) shift; tool org.apache.kafka.tools.TopicCommand "$@" ;;
  check-lag) check_lag "${2:?group regex}" ;;
  *)
    echo "usage: $0 install|start [PORT]|start-cluster BASE_PORT|kill NODE|restart NODE|stop|bootstrap|groups ARGS|topics ARGS|check-lag REGEX" >&2
    exit 2
    ;;
esac

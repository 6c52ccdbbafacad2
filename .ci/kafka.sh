#!/usr/bin/env bash
# Installs, starts, kills and stops Apache Kafka (KRaft, no ZooKeeper): the reference broker
# Gig's suite, fault tests and benchmark are measured on, and a secured node for its security
# tests.
#
#   .ci/kafka.sh install                 # the broker's jars from Maven Central into a cache
#   GIGCI_KAFKA_VERSION=3.9.2 .ci/kafka.sh install   # another release (each has its cache);
#                                        # `start` with it too. Other commands use the
#                                        # version the running nodes were started with.
#   .ci/kafka.sh start [PORT]            # one node (broker + controller) on 127.0.0.1:PORT
#   .ci/kafka.sh start-cluster BASE_PORT # three nodes on BASE_PORT, +1, +2 (RF 3, min ISR 2)
#   .ci/kafka.sh kill NODE               # SIGKILL node 1, 2 or 3
#   .ci/kafka.sh restart NODE            # start a killed or stopped node again, same data
#   .ci/kafka.sh stop                    # every node started here, the secure one too, by PID
#   .ci/kafka.sh bootstrap               # the bootstrap servers of what runs now
#   .ci/kafka.sh groups ARGS...          # kafka-consumer-groups, e.g. --describe --group G
#   .ci/kafka.sh topics ARGS...          # kafka-topics, e.g. --describe --topic T
#   .ci/kafka.sh check-lag REGEX         # fails unless every group matching REGEX has LAG 0
#   .ci/kafka.sh producer-perf TOPIC COUNT SIZE CODEC  # Kafka's ProducerPerformance writes
#                                        # COUNT records of SIZE bytes with compression CODEC
#   .ci/kafka.sh consumer-perf TOPIC COUNT  # Kafka's ConsumerPerformance reads COUNT records
#                                        # (a new group); prints its CSV header and line
#   .ci/kafka.sh bin                     # a folder of Kafka's own commands for the installed
#                                        # jars (kafka-topics.sh, kafka-acls.sh, …): put it on PATH
#
# The secure node runs beside those (its files in $SECURE_DIR, not in $STATE_DIR):
#   .ci/kafka.sh start-secure PORT       # SASL_SSL on PORT (SCRAM-SHA-512, OAUTHBEARER), mutual
#                                        # TLS on PORT+1 (principal = certificate CN), ACLs on
#   .ci/kafka.sh stop-secure             # that node only
#   .ci/kafka.sh secure-env              # the path of secure.env: KEY=VALUE lines for the tests
#                                        # (bootstraps, CA and client certificates, passwords)
#   .ci/kafka.sh secure-admin-props      # the path of the admin's (a super user) client config
#   .ci/kafka.sh secure-user NAME PASSWORD  # create or replace a SCRAM-SHA-512 user
#   .ci/kafka.sh secure-acl ARGS...      # kafka-acls as the admin, e.g. --add --allow-principal
#                                        # User:bob --operation Read --topic t
#   .ci/kafka.sh secure-groups ARGS...   # kafka-consumer-groups as the admin
#   .ci/kafka.sh secure-topics ARGS...   # kafka-topics as the admin
#   .ci/kafka.sh secure-tool MAIN ARGS...   # any Kafka tool class, e.g. ProducerPerformance
#                                        # with --producer.config "$(... secure-admin-props)"
# The secure-* tools print nothing on success but the answer to --list or --describe, and
# everything on failure. groups, topics and the secure-* tools add --bootstrap-server (and
# the admin's --command-config) unless given one.
#
# Controllers listen on the broker port + 100. Data and logs live in a fresh folder under
# $TMPDIR (node-N.log per node); nothing listens beyond loopback. A node that does not come up
# says why: its JVM's exit status and the end of its log. Ports are best chosen below the
# kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default):
# any outgoing connection may take one of those, and keep it in TIME_WAIT for 60 s after.
set -euo pipefail

# The reference broker, 4.4.0: the newest release (issue 32). It is KRaft-only, serves the
# KIP-848 consumer group protocol (GA since 4.0) that the suite runs under beside the classic
# one, and runs on Java 17 (the machines' JDK). GIGCI_KAFKA_VERSION picks another release
# from Maven Central: CI's matrix also runs 4.1.2 and 3.9.2 (.ci/kafka-matrix.sh;
# docs/backends.md, "Kafka versions"). 3.x runs on the same KRaft setup (process.roles, a
# formatted storage dir, a static quorum); the matrix runs it under the classic group
# protocol only, as KIP-848 is GA from 4.0.
REFERENCE_VERSION=4.4.0
HERE=$(cd "$(dirname "$0")" && pwd)
STATE_DIR=${GIGCI_KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/gig-kafka}
# Beside STATE_DIR, not in it: `start` empties STATE_DIR while the secure node may run.
SECURE_DIR=${GIGCI_KAFKA_SECURE_DIR:-$STATE_DIR-secure}

# kafka_version COMMAND: GIGCI_KAFKA_VERSION; else, for a command on running nodes (kill,
# restart, the tools), the version they were started with, so that a node restarts on its
# own jars; else the reference.
kafka_version() {
  if [ -n "${GIGCI_KAFKA_VERSION:-}" ]; then
    echo "$GIGCI_KAFKA_VERSION"
    return
  fi
  case ${1:-} in
    install | start | start-cluster | start-secure | bin | "") echo "$REFERENCE_VERSION" ;;
    secure-*) cat "$SECURE_DIR/kafka-version" 2>/dev/null || echo "$REFERENCE_VERSION" ;;
    *) cat "$STATE_DIR/kafka-version" 2>/dev/null || echo "$REFERENCE_VERSION" ;;
  esac
}
KAFKA_VERSION=$(kafka_version "${1:-}")
CACHE=${GIGCI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gig/kafka-$KAFKA_VERSION}
# Three nodes and the tests share 2 cores and a few GB: a modest heap each.
HEAP=${GIGCI_KAFKA_HEAP:--Xms256m -Xmx768m}

# What filled the cache: a changed pom (a new jar) installs afresh.
install_stamp() {
  echo "$KAFKA_VERSION $(cksum <"$HERE/kafka/pom.xml")"
}

install() {
  if [ "$(cat "$CACHE/complete" 2>/dev/null)" = "$(install_stamp)" ]; then
    echo "Apache Kafka $KAFKA_VERSION already installed in $CACHE"
    return
  fi
  echo "installing Apache Kafka $KAFKA_VERSION (jars from Maven Central) into $CACHE"
  rm -rf "$CACHE"
  mkdir -p "$CACHE"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$CACHE/libs"
  index_classes
  install_stamp >"$CACHE/complete"
  echo "installed: $(ls "$CACHE/libs" | wc -l) jars"
}

installed() {
  [ -f "$CACHE/complete" ] || {
    echo "Kafka $KAFKA_VERSION is not installed: run GIGCI_KAFKA_VERSION=$KAFKA_VERSION $0 install" >&2
    return 1
  }
  # Before the pom's log4j-slf4j-impl, the broker's log held nothing but its format lines.
  [ "$(cat "$CACHE/complete")" = "$(install_stamp)" ] ||
    echo "warning: $CACHE predates .ci/kafka/pom.xml (the broker logs nothing): run $0 install" >&2
  [ -f "$CACHE/classes" ] || index_classes
}

# The main classes the script runs, by simple name. Some moved between releases:
# AclCommand and ConsoleProducer are in kafka.admin and kafka.tools on 3.9, in
# org.apache.kafka.tools on 4.x; ConfigCommand is kafka.admin's on 4.1 and
# org.apache.kafka.tools' on 4.4.
MAIN_CLASSES="StorageTool TopicCommand ConsumerGroupCommand AclCommand ConfigCommand ConsoleConsumer
ConsoleProducer GetOffsetShell ProducerPerformance ConsumerPerformance"

# index_classes: $CACHE/classes, the full name of each of MAIN_CLASSES in this install's jars.
index_classes() {
  python3 - "$CACHE/libs" $MAIN_CLASSES >"$CACHE/classes" <<'PY'
import os, sys, zipfile
libs, wanted = sys.argv[1], set(sys.argv[2:])
for jar in sorted(os.listdir(libs)):
    if jar.startswith("kafka"):
        for name in zipfile.ZipFile(os.path.join(libs, jar)).namelist():
            simple = name.rsplit("/", 1)[-1][: -len(".class")]
            if name.endswith(".class") and simple in wanted:
                print(name[: -len(".class")].replace("/", "."))
PY
}

# main_class NAME: NAME's full name in this install (a name with a dot is taken as given).
main_class() {
  local full
  case $1 in *.*) echo "$1"; return ;; esac
  full=$(grep -m 1 "\.$1\$" "$CACHE/classes" || true)
  [ -n "$full" ] || { echo "no class $1 in Kafka $KAFKA_VERSION's jars ($CACHE/libs)" >&2; return 1; }
  echo "$full"
}

# Kafka's own commands (as its distribution's bin/ names them) and their classes.
TOOLS="kafka-topics.sh=TopicCommand
kafka-consumer-groups.sh=ConsumerGroupCommand
kafka-acls.sh=AclCommand
kafka-configs.sh=ConfigCommand
kafka-console-consumer.sh=ConsoleConsumer
kafka-console-producer.sh=ConsoleProducer
kafka-get-offsets.sh=GetOffsetShell
kafka-producer-perf-test.sh=ProducerPerformance
kafka-consumer-perf-test.sh=ConsumerPerformance"

# bin: writes a script per Kafka command into $CACHE/bin (the install has the jars only, no
# bin/), each running its class on the installed jars; prints the folder, for PATH.
bin_dir() {
  local line name main
  installed
  mkdir -p "$CACHE/bin"
  # Its own copy: the scripts keep working without this checkout.
  cp "$HERE/kafka/tools-log4j2.properties" "$CACHE/bin/"
  for line in $TOOLS; do
    name=${line%%=*}
    main=$(main_class "${line#*=}")
    printf '%s\n' '#!/usr/bin/env bash' \
      "# Kafka's $name: $main on the jars of .ci/kafka.sh install (written by .ci/kafka.sh bin)." \
      "exec java -Dlog4j2.configurationFile=\"$CACHE/bin/tools-log4j2.properties\" -cp \"$CACHE/libs/*\" $main \"\$@\"" \
      >"$CACHE/bin/$name"
    chmod +x "$CACHE/bin/$name"
  done
  echo "$CACHE/bin"
}

# given FLAG ARGS...: whether ARGS hold FLAG (alone or as FLAG=VALUE).
given() {
  local flag=$1 arg
  shift
  for arg in "$@"; do
    case $arg in "$flag" | "$flag"=*) return 0 ;; esac
  done
  return 1
}

# A Kafka tool: warnings and errors on stderr, its answer alone on stdout.
java_main() {
  local main
  installed
  main=$(main_class "$1")
  shift
  java -Dlog4j2.configurationFile="$HERE/kafka/tools-log4j2.properties" -cp "$CACHE/libs/*" \
    "$main" "$@"
}

# node_config ID BROKER_PORT VOTERS REPLICATION: the node's server.properties on stdout.
node_config() {
  local id=$1 port=$2 voters=$3 rf=$4
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
EOF
  broker_settings "$rf"
}

# broker_settings REPLICATION: what the plain and the secure nodes share.
broker_settings() {
  local rf=$1 min_isr=$(( $1 > 1 ? 2 : 1 ))
  cat <<EOF
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

# A cluster id as StorageTool random-uuid makes them (22 characters of URL-safe base64, no
# leading '-'), without the second or two of a JVM.
cluster_id() {
  python3 -c '
import base64, uuid
while True:
    id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not id.startswith("-"):
        print(id)
        break'
}

# format NODE CLUSTER_ID [ARGS...]: the data dir NODE.properties names, for that cluster.
format() {
  local node=$1 cluster=$2
  shift 2
  if ! java_main StorageTool format --ignore-formatted -t "$cluster" \
    -c "$node.properties" "$@" >>"$node.log" 2>&1; then
    tail -20 "$node.log" >&2
    echo "formatting $node failed" >&2
    return 1
  fi
}

# launch NODE: kafka.Kafka on NODE.properties, appending to NODE.log. NODE is a path prefix
# ($STATE_DIR/node-N, $SECURE_DIR/node); NODE.pid gets the JVM's PID and, once the JVM ends,
# NODE.exit its exit status: a node that dies while starting says how.
launch() {
  local node=$1
  rm -f "$node.pid" "$node.exit"
  # Where this run's part of the log begins.
  stat -c %s "$node.log" >"$node.offset" 2>/dev/null || echo 0 >"$node.offset"
  # setsid: the node outlives the shell that started it, until `stop`. The small shell around
  # the JVM only waits to write its status: the PID file names the JVM itself, which `stop`
  # and `kill` signal.
  setsid bash -c 'java "${@:2}" & echo $! >"$1.pid.new" && mv "$1.pid.new" "$1.pid"
    wait $!; echo $? >"$1.exit"' launch "$node" \
    $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" -cp "$CACHE/libs/*" \
    kafka.Kafka "$node.properties" >>"$node.log" 2>&1 </dev/null &
  for _ in $(seq 100); do
    [ -f "$node.pid" ] && return 0
    sleep 0.05
  done
  echo "$node: no JVM started within 5 s" >&2
  return 1
}

# ready NODE ADDRESS [BROKERS [--tls FILES...]]: waits (90 s at most) until the node at
# ADDRESS lists BROKERS brokers; gives up as soon as its JVM is gone, and then says why.
ready() {
  local node=$1 address=$2 pid
  shift 2
  pid=$(cat "$node.pid")
  python3 "$HERE/kafka-ready.py" "$address" 90 "$@" --pid "$pid" && return 0
  # The shell around the JVM writes its status right after it ends.
  for _ in $(seq 20); do
    [ -f "$node.exit" ] && break
    sleep 0.1
  done
  if [ -f "$node.exit" ]; then
    echo "$node: the JVM (pid $pid) exited with status $(cat "$node.exit")" >&2
  else
    echo "$node: the JVM (pid $pid) runs but did not become ready" >&2
  fi
  echo "--- its first errors and their causes, then the last 30 lines of $node.log:" >&2
  tail -c +$(($(cat "$node.offset") + 1)) "$node.log" |
    grep -m 8 -E '^\[[^]]*\] (ERROR|FATAL) |^Caused by: ' >&2 || true
  echo "..." >&2
  tail -30 "$node.log" >&2
  return 1
}

# up NODE ADDRESS [BROKERS [--tls FILES...]]: `ready`, and launched again (three launches at
# most) when the JVM died binding a port that an outgoing connection took after ports_free.
up() {
  local node=$1
  for _ in 1 2; do
    ready "$@" && return 0
    tail -c +$(($(cat "$node.offset") + 1)) "$node.log" | grep -q "failed to bind to" || return 1
    echo "$node: launching again once its ports are free" >&2
    ports_free $(sed -n 's/^listeners=//p' "$node.properties" | grep -o ':[0-9]*' | tr -d :) ||
      return 1
    launch "$node" || return 1
  done
  ready "$@"
}

# ports_free PORT...: each can be bound on 127.0.0.1 as the broker binds it, or fails loudly.
# A listener (a broker started elsewhere) holds a port, and so does a connection whose local
# end it is: the kernel lends the ports of its ephemeral range to outgoing connections, and
# one the client closed keeps its port in TIME_WAIT for 60 s. The broker's JVM would die
# binding it, so a connection is waited out (65 s at most), a listener is not.
ports_free() {
  python3 - "$@" <<'PY'
import socket, sys, time
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}

def bindable(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Java's server sockets
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()

def holders(port):
    """The TCP states of the sockets whose local port is port."""
    states = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                states.add(STATES.get(fields[3], "state " + fields[3]))
    return ", ".join(sorted(states)) or "no socket seen"

for port in map(int, sys.argv[1:]):
    deadline, told = time.time() + 65, False
    while not bindable(port):
        states = holders(port)
        if "LISTEN" in states or time.time() > deadline:
            why = "another broker?" if "LISTEN" in states else "held for over 65 s"
            if low <= port <= high:
                why += (f"; it is in the kernel's ephemeral range {low}-{high}, which "
                        f"outgoing connections take their ports from: choose ports below {low}")
            print(f"127.0.0.1:{port} cannot be bound ({states}): {why}", file=sys.stderr)
            sys.exit(1)
        if not told:
            print(f"127.0.0.1:{port} is a connection's local port ({states}): waiting until "
                  f"the kernel frees it", file=sys.stderr)
            told = True
        time.sleep(0.5)
PY
}

# start_nodes COUNT BASE_PORT
start_nodes() {
  local count=$1 base=$2 voters="" id ports="" cluster bootstrap
  installed
  stop_nodes "$STATE_DIR" >/dev/null
  for id in $(seq "$count"); do
    # Controllers take PORT+100.
    ports="$ports $((base + id - 1)) $((base + id - 1 + 100))"
  done
  ports_free $ports
  rm -rf "$STATE_DIR"
  mkdir -p "$STATE_DIR"
  # What kill, restart and the tools run without GIGCI_KAFKA_VERSION.
  echo "$KAFKA_VERSION" >"$STATE_DIR/kafka-version"
  for id in $(seq "$count"); do
    voters="$voters${voters:+,}$id@127.0.0.1:$((base + id - 1 + 100))"
  done
  cluster=$(cluster_id)
  for id in $(seq "$count"); do
    node_config "$id" $((base + id - 1)) "$voters" "$count" >"$STATE_DIR/node-$id.properties"
    format "$STATE_DIR/node-$id" "$cluster"
    echo "127.0.0.1:$((base + id - 1))" >"$STATE_DIR/node-$id.address"
  done
  for id in $(seq "$count"); do launch "$STATE_DIR/node-$id"; done
  bootstrap=$(addresses)
  echo "$bootstrap" >"$STATE_DIR/bootstrap"
  for id in $(seq "$count"); do
    if ! up "$STATE_DIR/node-$id" "$(cat "$STATE_DIR/node-$id.address")" "$count"; then
      stop_nodes "$STATE_DIR" >&2
      return 1
    fi
  done
  for id in $(seq "$count"); do
    echo "kafka $KAFKA_VERSION node $id pid $(cat "$STATE_DIR/node-$id.pid") on $(cat "$STATE_DIR/node-$id.address")"
  done
  echo "bootstrap servers: $bootstrap (logs: $STATE_DIR/node-*.log)"
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
  local id=$1 pid address
  pid=$(node_pid "$id")
  if kill -0 "$pid" 2>/dev/null; then
    echo "node $id (pid $pid) is running; kill or stop it first" >&2
    return 1
  fi
  address=$(cat "$STATE_DIR/node-$id.address")
  ports_free "${address##*:}" $((${address##*:} + 100))
  launch "$STATE_DIR/node-$id"
  up "$STATE_DIR/node-$id" "$address"
  echo "kafka node $id restarted, pid $(cat "$STATE_DIR/node-$id.pid")"
}

# gone SECONDS PID...: whether every PID has ended within SECONDS.
gone() {
  local tenths=$(($1 * 10)) pid alive
  shift
  for _ in $(seq "$tenths"); do
    alive=""
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -n "$alive" ] || return 0
    sleep 0.1
  done
  return 1
}

# stop_nodes DIR: every node whose PID file is in DIR; returns once all are gone, so that
# their ports are free for the next start.
stop_nodes() {
  local dir=$1 f pid pids="" files=""
  for f in "$dir"/node*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    files="$files $f"
    kill "$pid" 2>/dev/null && pids="$pids $pid"
  done
  if [ -n "$pids" ]; then
    # A controlled shutdown takes a few seconds; a node that lost its quorum may never finish.
    if ! gone 15 $pids; then
      for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
      gone 5 $pids || echo "pids$pids outlived SIGKILL by 5 s" >&2
    fi
    echo "kafka stopped (pids$pids)"
  fi
  [ -z "$files" ] || rm -f $files
}

stop() {
  stop_nodes "$STATE_DIR"
  stop_nodes "$SECURE_DIR"
}

# Letters and digits (about 24): safe unquoted in properties, JAAS and KEY=VALUE lines.
random_password() {
  head -c 24 /dev/urandom | base64 | tr -d '+/='
}

# value KEY FILE: KEY's value in a file of KEY=VALUE lines.
value() {
  sed -n "s/^$1=//p" "$2"
}

# secure_config PORT CERTS_ENV: the secure node's server.properties on stdout.
secure_config() {
  local port=$1 certs=$2
  cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 100))
listeners=SASL_SSL://127.0.0.1:$port,SSL://127.0.0.1:$((port + 1)),CONTROLLER://127.0.0.1:$((port + 100))
advertised.listeners=SASL_SSL://127.0.0.1:$port,SSL://127.0.0.1:$((port + 1))
controller.listener.names=CONTROLLER
# The broker speaks to its controller and to brokers over mutual TLS, as a super user (its
# certificate's CN): no listener takes a client without authenticating it.
inter.broker.listener.name=SSL
listener.security.protocol.map=CONTROLLER:SSL,SSL:SSL,SASL_SSL:SASL_SSL
log.dirs=$SECURE_DIR/data
ssl.keystore.type=PKCS12
ssl.keystore.location=$(value BROKER_P12 "$certs")
ssl.keystore.password=$(value BROKER_P12_PASSWORD "$certs")
ssl.truststore.type=PKCS12
ssl.truststore.location=$(value TRUSTSTORE_P12 "$certs")
ssl.truststore.password=$(value TRUSTSTORE_PASSWORD "$certs")
listener.name.ssl.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
# A client certificate's principal is its CN: CN=alice is User:alice.
ssl.principal.mapping.rules=RULE:^CN=([^,]+)(,.*)?\$/\$1/,DEFAULT
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# Unsecured JWTs (alg none, the principal in "sub"), as librdkafka's
# enable.sasl.oauthbearer.unsecure.jwt makes them. The login module wants a subject for the
# broker's own token, which it never sends.
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="gig-ci-broker";
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:gig-ci-broker
EOF
  broker_settings 1
}

# start_secure PORT: the secure node. Its CA, certificates and passwords are made fresh in
# $SECURE_DIR, a folder for this user only.
start_secure() {
  local port=$1 node="$SECURE_DIR/node" tls="$SECURE_DIR/tls" password
  installed
  stop_nodes "$SECURE_DIR" >/dev/null
  ports_free "$port" $((port + 1)) $((port + 100))
  rm -rf "$SECURE_DIR"
  mkdir -m 700 "$SECURE_DIR"
  echo "$KAFKA_VERSION" >"$SECURE_DIR/kafka-version"
  mkdir "$tls"
  # One JVM runs keytool's commands (see SecureCerts.java).
  if ! java --add-exports java.base/sun.security.tools.keytool=ALL-UNNAMED \
    "$HERE/kafka/SecureCerts.java" "$tls" >"$SECURE_DIR/certs.log" 2>&1; then
    cat "$SECURE_DIR/certs.log" >&2
    echo "making the secure node's certificates failed" >&2
    return 1
  fi
  password=$(random_password)
  secure_config "$port" "$tls/certs.env" >"$node.properties"
  format "$node" "$(cluster_id)" --add-scram "SCRAM-SHA-512=[name=admin,password=$password]"
  cat >"$SECURE_DIR/admin.properties" <<EOF
bootstrap.servers=127.0.0.1:$port
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$password";
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
EOF
  launch "$node"
  # The broker lists itself to any client it authenticates; Python can be a mutual TLS one.
  if ! up "$node" "127.0.0.1:$((port + 1))" 1 \
    --tls "$tls/ca.pem" "$tls/tls-reader.pem" "$tls/tls-reader.key"; then
    stop_nodes "$SECURE_DIR" >&2
    return 1
  fi
  {
    echo "GIGCI_SECURE_SASL_BOOTSTRAP=127.0.0.1:$port"
    echo "GIGCI_SECURE_MTLS_BOOTSTRAP=127.0.0.1:$((port + 1))"
    echo "GIGCI_SECURE_ADMIN_USER=admin"
    echo "GIGCI_SECURE_ADMIN_PASSWORD=$password"
    echo "GIGCI_SECURE_ADMIN_PROPS=$SECURE_DIR/admin.properties"
    grep '^GIGCI_SECURE_' "$tls/certs.env"
  } >"$SECURE_DIR/secure.env"
  echo "kafka $KAFKA_VERSION secure node pid $(cat "$node.pid"): SASL_SSL on 127.0.0.1:$port" \
    "(SCRAM-SHA-512, OAUTHBEARER), mutual TLS on 127.0.0.1:$((port + 1))"
  echo "secure.env: $SECURE_DIR/secure.env (log: $node.log)"
}

# secure_file NAME: the path of the secure node's file NAME, if it was started.
secure_file() {
  if [ ! -f "$SECURE_DIR/$1" ]; then
    echo "no secure node started in $SECURE_DIR: run $0 start-secure PORT" >&2
    return 1
  fi
  echo "$SECURE_DIR/$1"
}

# secure_tool MAIN ARGS...: a Kafka tool on the secure node; its output as it comes.
secure_tool() {
  local main=$1 status=0
  shift
  secure_file secure.env >/dev/null
  java_main "$main" "$@" || status=$?
  [ "$status" = 0 ] || echo "$main failed (exit status $status)" >&2
  return "$status"
}

# secure_admin MAIN ARGS...: tool MAIN as the secure node's admin. Silent when it succeeds,
# but for its answer to --list or --describe; all its output when it fails.
secure_admin() {
  local main=$1 env arg out status=0
  shift
  env=$(secure_file secure.env)
  # Kafka's tools die on a repeated option (MultipleArgumentsForOptionException).
  given --command-config "$@" || set -- --command-config "$(value GIGCI_SECURE_ADMIN_PROPS "$env")" "$@"
  given --bootstrap-server "$@" || set -- --bootstrap-server "$(value GIGCI_SECURE_SASL_BOOTSTRAP "$env")" "$@"
  set -- "$main" "$@"
  for arg in "$@"; do
    case $arg in --list | --describe) secure_tool "$@"; return ;; esac
  done
  out=$(java_main "$@" 2>&1) || status=$?
  if [ "$status" != 0 ]; then
    echo "$out" >&2
    echo "$main failed (exit status $status)" >&2
  fi
  return "$status"
}

tool() {
  local main=$1
  shift
  local bootstrap
  if given --bootstrap-server "$@"; then
    java_main "$main" "$@"
    return
  fi
  bootstrap=${GIGCI_KAFKA_BOOTSTRAP:-$(cat "$STATE_DIR/bootstrap" 2>/dev/null || true)}
  [ -n "$bootstrap" ] || { echo "no Kafka running here; set GIGCI_KAFKA_BOOTSTRAP" >&2; return 1; }
  java_main "$main" --bootstrap-server "$bootstrap" "$@"
}

# producer_perf TOPIC COUNT SIZE CODEC: records Gig did not write, by Kafka's own producer, so
# that what a Java producer sends (its batches, each codec) is what Gig is tested on.
producer_perf() {
  local topic=$1 count=$2 size=$3 codec=$4 bootstrap
  bootstrap=${GIGCI_KAFKA_BOOTSTRAP:-$(cat "$STATE_DIR/bootstrap" 2>/dev/null || true)}
  [ -n "$bootstrap" ] || { echo "no Kafka running here; set GIGCI_KAFKA_BOOTSTRAP" >&2; return 1; }
  java_main ProducerPerformance --topic "$topic" \
    --num-records "$count" --record-size "$size" --throughput -1 \
    --producer-props bootstrap.servers="$bootstrap" compression.type="$codec" acks=all | tail -1
}

# consumer_perf TOPIC COUNT: Kafka's own Java consumer reading COUNT records of TOPIC in a new
# group, the anchor gig-bench compares Gig with. Prints ConsumerPerformance's header and line.
consumer_perf() {
  local topic=$1 count=$2 bootstrap
  bootstrap=${GIGCI_KAFKA_BOOTSTRAP:-$(cat "$STATE_DIR/bootstrap" 2>/dev/null || true)}
  [ -n "$bootstrap" ] || { echo "no Kafka running here; set GIGCI_KAFKA_BOOTSTRAP" >&2; return 1; }
  java_main ConsumerPerformance --bootstrap-server "$bootstrap" \
    --topic "$topic" --messages "$count" --group "consumer-perf-$$-$RANDOM" --timeout 60000
}

# Kafka's own view of the committed offsets, a check foreign to Gig: every partition of every
# group whose name matches the regex must show LAG 0 (a "-" means nothing was committed).
check_lag() {
  local pattern=$1 out rows
  out=$(tool ConsumerGroupCommand --describe --all-groups 2>/dev/null)
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
  groups) shift; tool ConsumerGroupCommand "$@" ;;
  topics) shift; tool TopicCommand "$@" ;;
  check-lag) check_lag "${2:?group regex}" ;;
  bin) bin_dir ;;
  consumer-perf) consumer_perf "${2:?topic}" "${3:?count}" ;;
  producer-perf) producer_perf "${2:?topic}" "${3:?count}" "${4:?size}" "${5:?codec}" ;;
  start-secure) start_secure "${2:?port}" ;;
  stop-secure) stop_nodes "$SECURE_DIR" ;;
  secure-env) secure_file secure.env ;;
  secure-admin-props) secure_file secure.env >/dev/null && secure_file admin.properties ;;
  secure-user)
    secure_admin ConfigCommand --alter --entity-type users --entity-name "${2:?name}" \
      --add-config "SCRAM-SHA-512=[password=${3:?password}]"
    ;;
  secure-acl) shift; secure_admin AclCommand "$@" ;;
  secure-groups) shift; secure_admin ConsumerGroupCommand "$@" ;;
  secure-topics) shift; secure_admin TopicCommand "$@" ;;
  secure-tool) shift; secure_tool "${1:?tool class}" "${@:2}" ;;
  *)
    echo "usage: $0 install|start [PORT]|start-cluster BASE_PORT|kill NODE|restart NODE|stop|bootstrap|groups ARGS|topics ARGS|check-lag REGEX|producer-perf TOPIC COUNT SIZE CODEC|consumer-perf TOPIC COUNT|bin" >&2
    echo "       $0 start-secure PORT|stop-secure|secure-env|secure-admin-props|secure-user NAME PASSWORD|secure-acl ARGS|secure-groups ARGS|secure-topics ARGS|secure-tool MAIN ARGS" >&2
    exit 2
    ;;
esac

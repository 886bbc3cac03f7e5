#!/usr/bin/env bash
# Runs one router node in the foreground: builds what is missing, starts the embedded Cassandra
# (unless ROUTER_CASSANDRA_CONTACT_POINTS is set) and execs the node JVM, so SIGTERM reaches it
# and drains it cleanly (clients told to reconnect, Cassandra flushed and stopped).
#
# Environment (defaults): ROUTER_BIND_HOST 127.0.0.1, ROUTER_HTTP_PORT 8080,
# ROUTER_GRPC_PORT 8081, ROUTER_MANAGEMENT_PORT 8558, ROUTER_METRICS_PORT 9095,
# ROUTER_CLUSTER_PORT 25520, ROUTER_JWT_SECRET (development default, logged loudly),
# ROUTER_DATA_DIR ./.data, ROUTER_CASSANDRA_CONTACT_POINTS (unset: embedded),
# ROUTER_CASSANDRA_PORT 9042, ROUTER_CASSANDRA_STORAGE_PORT 7000.
# JAVA_OPTS is passed to the node JVM: JAVA_OPTS=-Drouter.limits.sends-per-second=1000 ops/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

classpath_file=router-node/target/runtime.classpath
# ROUTER_SKIP_BUILD=1: the caller built already (ops/cluster starts several nodes at once)
if [ -z "${ROUTER_SKIP_BUILD:-}" ] && { [ ! -f "$classpath_file" ] || [ -n "$(find pom.xml application.conf \
      protocol/pom.xml protocol/src persistence/pom.xml persistence/src/main router-node/pom.xml router-node/src/main \
      -newer "$classpath_file" -type f 2>/dev/null | head -1)" ]; }; then
  echo "building the router (first run or sources changed)..." >&2
  mvn -B -q -Dmaven.test.skip=true install >&2
fi

# every WebSocket is an open file: let the node use as many as the system allows it
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

export ROUTER_DATA_DIR="${ROUTER_DATA_DIR:-./.data}"
mkdir -p "$ROUTER_DATA_DIR"
exec java ${JAVA_OPTS:-} -cp "router-node/target/classes:$(cat "$classpath_file")" org.imrouter.node.bootstrap.Main

#!/usr/bin/env bash
# Load generator: ops/loadtest.sh SCENARIO [--flag value ...]
# Scenarios: dm (with the storage and transport baselines), baseline-cassandra, baseline-ws,
# connections, connect-storm, group (fan-out ladder), hot (one hot group and inbox), relay,
# latency-proxy (a slow Cassandra to point a node at).
# Target with --url ws://host:port/v1/ws (default ws://127.0.0.1:8080/v1/ws or $ROUTER_WS_URL).
# Prints a table while it runs and writes report.json + report.html under loadtest/target/reports/.
# LOADGEN_JAVA_OPTS is passed to the load generator's JVM (default: a 2 GiB heap).
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=loadtest/target/runtime.classpath
if [ ! -f "$cp_file" ] || [ -n "$(find pom.xml protocol/src loadtest/pom.xml loadtest/src/main -newer "$cp_file" -type f 2>/dev/null | head -1)" ]; then
  echo "building the load generator (first run or sources changed)..." >&2
  mvn -B -q -Dmaven.test.skip=true install -pl loadtest -am >&2
fi
exec java ${LOADGEN_JAVA_OPTS:--Xmx2g} -cp "loadtest/target/classes:$(cat "$cp_file")" org.imrouter.loadtest.LoadGen "$@"

#!/usr/bin/env bash
# Starts router node N of the local cluster in the background (N=4 scales out). It joins the
# others through Cluster Bootstrap and uses the 3-node Cassandra at quorum.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
n=$1
dir="$CLUSTER_DIR/router-$n"; mkdir -p "$dir"
if pid_alive "$dir/pid"; then echo "router-$n already running"; exit 0; fi
[ -f router-node/target/runtime.classpath ] || mvn -B -q -Dmaven.test.skip=true install >&2
env $(router_env "$n") ROUTER_SKIP_BUILD=1 JAVA_OPTS="-Dconfig.file=$(pwd)/ops/cluster/local.conf ${JAVA_OPTS:-}" \
  nohup ops/run.sh > "$dir/node.log" 2>&1 &
echo $! > "$dir/pid"
echo "router-$n starting: ws://127.0.0.$n:8080/v1/ws, gRPC 127.0.0.$n:8081, $(management_url "$n") (log $dir/node.log)"

#!/usr/bin/env bash
# Starts router node N of the local cluster in the background (N=4 scales out). It joins the
# others through Cluster Bootstrap and uses the 3-node Cassandra at quorum.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
n=$1
dir="$CLUSTER_DIR/router-$n"; mkdir -p "$dir"
if pid_alive "$dir/pid"; then echo "router-$n already running"; exit 0; fi
env $(router_env "$n") JAVA_OPTS="-Dconfig.file=$(pwd)/ops/cluster/local.conf ${JAVA_OPTS:-}" \
  nohup ops/run.sh > "$dir/node.log" 2>&1 &
echo $! > "$dir/pid"
echo "router-$n starting: ws://127.0.0.1:$((8080 + 10 * (n - 1)))/v1/ws, management :$((8557 + n)) (log $dir/node.log)"

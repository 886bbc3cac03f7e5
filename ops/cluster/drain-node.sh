#!/usr/bin/env bash
# Scale in: SIGTERM router node N, which closes its WebSockets with 1001 (clients reconnect to
# the others), hands off its shards, leaves the cluster and exits. Waits until it has.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
n=$1
pidfile="$CLUSTER_DIR/router-$n/pid"
pid_alive "$pidfile" || { echo "router-$n is not running"; exit 0; }
kill -TERM "$(cat "$pidfile")"
while pid_alive "$pidfile"; do sleep 1; done
echo "router-$n drained and stopped"

#!/usr/bin/env bash
# Stops the whole local cluster: router nodes first (drained), then Cassandra (flushed).
set -uo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
for d in "$CLUSTER_DIR"/router-* "$CLUSTER_DIR"/cassandra-*; do
  [ -f "$d/pid" ] && pid_alive "$d/pid" && kill -TERM "$(cat "$d/pid")"
done
for d in "$CLUSTER_DIR"/router-* "$CLUSTER_DIR"/cassandra-*; do
  while [ -f "$d/pid" ] && pid_alive "$d/pid"; do sleep 1; done
done
echo "local cluster stopped (data kept in $CLUSTER_DIR)"

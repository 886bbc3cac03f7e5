#!/usr/bin/env bash
# A deploy on the local cluster: restarts every running router node in turn. For each node:
# drain it (SIGTERM: its WebSockets closed with 1001 "reconnect", shards handed off, cluster
# left), start it again, wait until it is ready and Up in every node's view, then wait until
# the shard distribution has settled (no node's count of User and Group shards changed for
# ROLLING_SETTLE_SECONDS, longer than the coordinator's 10 s rebalance interval) before the
# next node goes. One node at a time keeps a majority and spare capacity for the reconnects,
# as the Kubernetes rollout does (ops/k8s/deployment.yaml: maxUnavailable 0, maxSurge 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
SETTLE=${ROLLING_SETTLE_SECONDS:-15}
TIMEOUT=${ROLLING_TIMEOUT_SECONDS:-300}

running=()
for d in "$CLUSTER_DIR"/router-*; do
  [ -d "$d" ] && pid_alive "$d/pid" && running+=("${d##*/router-}")
done
[ ${#running[@]} -gt 0 ] || { echo "no router node is running (ops/cluster/start.sh)"; exit 1; }
echo "rolling restart of router nodes ${running[*]}"

members_up() { # N: how many members node N sees Up
  curl -s "$(management_url "$1")/cluster/members" | grep -o '"status":"Up"' | wc -l
}

shard_counts() { # the User and Group shard counts of every running node, one line
  local n line=""
  for n in "${running[@]}"; do
    line+="router-$n:"
    line+="$(curl -s "$(management_url "$n")/cluster/shards/User" | grep -o '"shardId"' | wc -l)/"
    line+="$(curl -s "$(management_url "$n")/cluster/shards/Group" | grep -o '"shardId"' | wc -l) "
  done
  echo "$line"
}

for n in "${running[@]}"; do
  started=$SECONDS
  ops/cluster/drain-node.sh "$n"
  ops/cluster/start-node.sh "$n" > /dev/null
  deadline=$((SECONDS + TIMEOUT))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$(management_url "$n")/ready")" = 200 ] \
      && [ "$(members_up "$n")" -ge ${#running[@]} ]; do
    [ $SECONDS -lt $deadline ] || { echo "router-$n not ready with ${#running[@]} members Up after ${TIMEOUT}s"; exit 1; }
    sleep 1
  done
  echo "router-$n back and ready after $((SECONDS - started)) s"
  last=$(shard_counts); stable_since=$SECONDS
  while [ $((SECONDS - stable_since)) -lt "$SETTLE" ]; do
    [ $SECONDS -lt $deadline ] || { echo "shards still moving after ${TIMEOUT}s: $last"; exit 1; }
    sleep 1
    now=$(shard_counts)
    if [ "$now" != "$last" ]; then last=$now; stable_since=$SECONDS; fi
  done
  echo "shards settled ($last) $((SECONDS - started)) s after router-$n was drained"
done
echo "rolling restart done"

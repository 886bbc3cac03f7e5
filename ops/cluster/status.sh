#!/usr/bin/env bash
# Which processes of the local cluster run, which router nodes are ready, and the cluster's
# members as node 1 (or the first node that answers) sees them.
set -uo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
for d in "$CLUSTER_DIR"/cassandra-* "$CLUSTER_DIR"/router-*; do
  [ -d "$d" ] || continue
  name=$(basename "$d")
  if pid_alive "$d/pid"; then state="running (pid $(cat "$d/pid"))"; else state="stopped"; fi
  if [[ $name == router-* ]]; then
    n=${name#router-}
    state="$state, /ready $(curl -s -o /dev/null -w '%{http_code}' "$(management_url "$n")/ready")"
  fi
  echo "$name: $state"
done
for n in 1 2 3 4 5; do
  members=$(curl -s "$(management_url "$n")/cluster/members" 2>/dev/null) || continue
  [ -n "$members" ] && { echo "members (seen by router-$n): $members"; break; }
done

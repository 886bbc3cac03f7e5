#!/usr/bin/env bash
# Scale out: starts router node N (e.g. 4); it joins the running cluster and shards move to it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
n=${1:-4}
ops/cluster/start-node.sh "$n"
wait_http_200 "$(management_url "$n")/ready" 300 && echo "router-$n ready"

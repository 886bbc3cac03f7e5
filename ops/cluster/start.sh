#!/usr/bin/env bash
# One command for the local cluster: a 3-node Cassandra (replication factor 3, quorum) and a
# 3-node router cluster on loopback, each process with its own ports and data directory.
# Ready when this returns. Then: ops/cluster/status.sh, ops/cluster/add-node.sh 4,
# ops/cluster/drain-node.sh 2, ops/cluster/stop.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
mvn -B -q -Dmaven.test.skip=true install >&2
for n in 1 2 3; do
  ops/cluster/start-cassandra.sh "$n"
  wait_cql "127.0.0.$n" 300 || { echo "cassandra-$n did not come up"; exit 1; }
  echo "cassandra-$n up"
done
# the schema once, as production does, instead of three routers racing to autocreate it
java -cp "persistence/target/classes:$(cat persistence/target/runtime.classpath)" org.imrouter.persistence.SchemaScript \
  --apply 127.0.0.1:9042 datacenter1:3 2>/dev/null
for n in 1 2 3; do ops/cluster/start-node.sh "$n"; done
for n in 1 2 3; do
  wait_http_200 "$(management_url "$n")/ready" 300 || { echo "router-$n not ready"; exit 1; }
  echo "router-$n ready"
done
ops/cluster/status.sh

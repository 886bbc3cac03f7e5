#!/usr/bin/env bash
# Starts Cassandra node N (1..3) of the local cluster in the background: 127.0.0.N, data under
# .data/cluster/cassandra-N. Nodes join the ring one at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/cluster/env.sh
n=$1
dir="$CLUSTER_DIR/cassandra-$n"; mkdir -p "$dir"
if pid_alive "$dir/pid"; then echo "cassandra-$n already running"; exit 0; fi
cp_file=persistence/target/runtime.classpath
[ -f "$cp_file" ] || mvn -B -q -Dmaven.test.skip=true install -pl persistence -am >&2
nohup java -Xmx128m -cp "persistence/target/classes:$(cat "$cp_file")" org.imrouter.persistence.embedded.CassandraNodeMain \
  "$dir/data" "127.0.0.$n" "$CASSANDRA_SEEDS" 9042 7000 "$CASSANDRA_HEAP_MB" > "$dir/launcher.log" 2>&1 &
echo $! > "$dir/pid"
echo "cassandra-$n starting at 127.0.0.$n:9042 (log $dir/data/cassandra.log)"

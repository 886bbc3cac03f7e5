#!/usr/bin/env bash
# Prints the production CQL schema (journal + snapshots) for the given replication, e.g.
#   ops/cassandra/print-schema.sh dc1:3 dc2:3 > schema.cql && cqlsh -f schema.cql
# Then run the nodes with ROUTER_CASSANDRA_AUTOCREATE=false.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -Dmaven.test.skip=true install -pl persistence -am >&2
cp="persistence/target/classes:$(mvn -B -q -pl persistence dependency:build-classpath -Dmdep.outputFile=/dev/stdout)"
exec java -cp "$cp" org.imrouter.persistence.SchemaScript "$@"

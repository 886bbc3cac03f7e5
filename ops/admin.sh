#!/usr/bin/env bash
# Admin client of the gRPC ingress (publish, groups, history, info, tail). Examples:
#   ops/admin.sh publish --to user:bob --as system:ops --text "deploy done"
#   ops/admin.sh create-group --group g1 --as alice --members bob,carol
#   ops/admin.sh tail --stream group:g1
# ROUTER_GRPC_ADDR (127.0.0.1:8081) and ROUTER_BACKEND_TOKEN (development default) apply.
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=loadtest/target/runtime.classpath
[ -f "$cp_file" ] || mvn -B -q -Dmaven.test.skip=true install >&2
exec java -Dpekko.loglevel=WARNING -cp "loadtest/target/classes:$(cat "$cp_file")" org.imrouter.loadtest.AdminCli "$@"

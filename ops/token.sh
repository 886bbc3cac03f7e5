#!/usr/bin/env bash
# Prints a development JWT for USER, signed with ROUTER_JWT_SECRET (or the dev default).
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=loadtest/target/runtime.classpath
[ -f "$cp_file" ] || mvn -B -q -Dmaven.test.skip=true install >&2
exec java -cp "loadtest/target/classes:$(cat "$cp_file")" org.imrouter.loadtest.DevTokens "$@"

#!/usr/bin/env bash
# Command-line chat client: ops/chat.sh USER [ws://127.0.0.1:8080/v1/ws]
# Type "@bob hi", "#g1 hello", "/create g1 Team bob", "/sync inbox 0" (see ChatCli for all).
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=loadtest/target/runtime.classpath
[ -f "$cp_file" ] || mvn -B -q -Dmaven.test.skip=true install >&2
exec java -cp "loadtest/target/classes:$(cat "$cp_file")" org.imrouter.loadtest.ChatCli "$@"

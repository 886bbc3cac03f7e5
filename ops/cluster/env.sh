# Shared by the ops/cluster scripts: where each local process lives. Router node N (1-based) uses
# HTTP 8080+10(N-1), gRPC 8081+10(N-1), management 8557+N, metrics 9094+N, Artery 25519+N.
# Cassandra node N listens on 127.0.0.N (CQL 9042, storage 7000).
CLUSTER_DIR="${ROUTER_CLUSTER_DIR:-$(pwd)/.data/cluster}"
CASSANDRA_SEEDS="127.0.0.1"
CASSANDRA_CONTACT_POINTS="127.0.0.1:9042,127.0.0.2:9042,127.0.0.3:9042"
CASSANDRA_HEAP_MB="${CASSANDRA_HEAP_MB:-512}"

router_env() { # N: prints the environment of router node N
  local n=$1
  echo "ROUTER_HTTP_PORT=$((8080 + 10 * (n - 1))) ROUTER_GRPC_PORT=$((8081 + 10 * (n - 1)))" \
       "ROUTER_MANAGEMENT_PORT=$((8557 + n)) ROUTER_METRICS_PORT=$((9094 + n)) ROUTER_CLUSTER_PORT=$((25519 + n))" \
       "ROUTER_CASSANDRA_CONTACT_POINTS=$CASSANDRA_CONTACT_POINTS ROUTER_DATA_DIR=$CLUSTER_DIR/router-$n"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_http_200() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

wait_cql() { # HOST SECONDS
  local deadline=$((SECONDS + $2))
  until (exec 3<>/dev/tcp/"$1"/9042) 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

# Shared by the ops/cluster scripts: where each local process lives. Node N (1-based) has its own
# loopback address 127.0.0.N (Linux routes all of 127.0.0.0/8 to lo), so every process keeps the
# default ports: router WebSocket 8080, gRPC 8081, management 8558, metrics 9095, Artery 25520;
# Cassandra CQL 9042, storage 7000.
CLUSTER_DIR="${ROUTER_CLUSTER_DIR:-$(pwd)/.data/cluster}"
CASSANDRA_SEEDS="127.0.0.1"
CASSANDRA_CONTACT_POINTS="127.0.0.1:9042,127.0.0.2:9042,127.0.0.3:9042"
CASSANDRA_HEAP_MB="${CASSANDRA_HEAP_MB:-512}"

router_env() { # N: prints the environment of router node N
  local n=$1
  echo "ROUTER_BIND_HOST=127.0.0.$n ROUTER_CLUSTER_HOST=127.0.0.$n" \
       "ROUTER_CASSANDRA_CONTACT_POINTS=$CASSANDRA_CONTACT_POINTS ROUTER_DATA_DIR=$CLUSTER_DIR/router-$n" \
       "ROUTER_CASSANDRA_AUTOCREATE=false"
}

management_url() { echo "http://127.0.0.$1:8558"; }

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

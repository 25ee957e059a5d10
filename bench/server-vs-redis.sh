#!/usr/bin/env bash
# framesim-server against redis-server, measured in the same run on loopback:
#
#  1. throughput: redis-benchmark -t ping,set,get against each server with
#     (c=50, P=1), (c=1000, P=16), (c=10000, P=1); requests/s and the ratio per row,
#     medians of REPS repetitions with the two servers alternated;
#  2. memory per idle connection: bench/idle_conns.py (another process) opens 10,000
#     connections, sends one request on each, holds them; RSS delta / connections for
#     framesim-server, redis-server and nginx (one keep-alive GET per connection). Two
#     arrival patterns, each on a fresh server: all connect, then each sends one request
#     (idle-then-request: read once idle and once after the requests), and each sends its
#     request as soon as it is connected (burst).
#
# Installs redis-server, redis-tools and nginx with apt-get when missing. Knobs (env):
#   N_C50 N_C1000 N_C10000   requests per redis-benchmark test in each row
#   REPS                     repetitions per row, servers alternated; medians (3)
#   CONNS                    connections for the memory measurement (10000)
#   SETTLE                   seconds before each RSS reading (5: framesim-server parks a
#                            connection after 1 s of nothing and frees its task's memory
#                            to the system a second later)
#   ONLY=throughput|memory   run one part
#   FRAMESIM_ARGS            extra framesim-server flags, e.g. "--threads 1"
#   FRAMESIM_PORT REDIS_PORT NGINX_PORT (7380 7379 7381)
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMESIM_PORT=${FRAMESIM_PORT:-7380}
REDIS_PORT=${REDIS_PORT:-7379}
NGINX_PORT=${NGINX_PORT:-7381}
N_C50=${N_C50:-300000}
N_C1000=${N_C1000:-3000000}
N_C10000=${N_C10000:-200000}
REPS=${REPS:-3}
CONNS=${CONNS:-10000}
SETTLE=${SETTLE:-5}
ONLY=${ONLY:-all}

# 10,000 clients, 10,000 server sockets, a few spare.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < CONNS + 100)); then
    echo "need $((CONNS + 100)) open files, have $(ulimit -n)" >&2
    exit 1
fi

apt_updated=
need() { # command package
    command -v "$1" >/dev/null && return
    if [[ -z $apt_updated ]]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need redis-server redis-server
need redis-benchmark redis-tools
if [[ $ONLY != throughput ]]; then
    need nginx nginx
fi

cargo build --release -p framesim-server >&2
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$target/release/framesim-server

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

stop() { # pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

start_framesim() {
    # shellcheck disable=SC2086 # FRAMESIM_ARGS is a list of flags
    "$BIN" --listen "127.0.0.1:$FRAMESIM_PORT" --max-connections 12000 ${FRAMESIM_ARGS:-} \
        2>>"$tmp/framesim.log" &
    FRAMESIM_PID=$!
    pids+=("$FRAMESIM_PID")
    wait_port "$FRAMESIM_PORT"
}

start_redis() {
    redis-server --save '' --appendonly no --port "$REDIS_PORT" --bind 127.0.0.1 \
        --maxclients 12000 --tcp-backlog 4096 --logfile "$tmp/redis.log" &
    REDIS_PID=$!
    pids+=("$REDIS_PID")
    wait_port "$REDIS_PORT"
}

start_nginx() {
    mkdir -p "$tmp/nginx"
    sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@DIR@|$tmp/nginx|g" bench/nginx.conf \
        >"$tmp/nginx/nginx.conf"
    nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
    NGINX_PID=$!
    pids+=("$NGINX_PID")
    wait_port "$NGINX_PORT"
    # The connections live in the worker, not the master.
    NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
}

bench() { # port clients pipeline requests -> "TEST rps" lines
    timeout 600 redis-benchmark -h 127.0.0.1 -p "$1" -c "$2" -P "$3" -n "$4" \
        -t ping,set,get --csv 2>/dev/null | tr -d '"' | awk -F, 'NR > 1 { print $1, $2 }'
}

median() { # "TEST rps" lines of all repetitions -> "TEST median" lines
    sort -k1,1 -k2,2g | awk '
        { v[$1] = v[$1] " " $2 }
        END { for (t in v) { n = split(v[t], a, " "); print t, a[int((n + 1) / 2)] } }' | sort
}

if [[ $ONLY != memory ]]; then
    start_framesim
    start_redis
    echo
    echo "## requests/s, redis-benchmark -t ping,set,get, median of $REPS (loopback, $(nproc) cores)"
    echo
    echo "| clients | pipeline | test | framesim-server | redis-server | framesim / redis |"
    echo "|---|---|---|---|---|---|"
    for row in "50 1 $N_C50" "1000 16 $N_C1000" "10000 1 $N_C10000"; do
        read -r c p n <<<"$row"
        : >"$tmp/framesim.all"
        : >"$tmp/redis.all"
        # Alternate the servers so that background load hits both alike.
        for _ in $(seq "$REPS"); do
            bench "$FRAMESIM_PORT" "$c" "$p" "$n" >>"$tmp/framesim.all"
            bench "$REDIS_PORT" "$c" "$p" "$n" >>"$tmp/redis.all"
        done
        join <(median <"$tmp/framesim.all") <(median <"$tmp/redis.all") |
            awk -v c="$c" -v p="$p" '{ printf "| %s | %s | %s | %.0f | %.0f | %.2fx |\n", c, p, $1, $2, $3, $2 / $3 }'
    done
    stop "$FRAMESIM_PID"
    stop "$REDIS_PID"
fi

if [[ $ONLY != throughput ]]; then
    # Fresh servers: memory freed by the load above would otherwise be reused.
    results=()
    for pattern in idle-then-request burst; do
        start_framesim
        results+=("$(python3 bench/idle_conns.py --port "$FRAMESIM_PORT" --pid "$FRAMESIM_PID" \
            --proto resp --count "$CONNS" --settle "$SETTLE" --pattern "$pattern" \
            --name framesim-server)")
        stop "$FRAMESIM_PID"
        start_redis
        results+=("$(python3 bench/idle_conns.py --port "$REDIS_PORT" --pid "$REDIS_PID" \
            --proto resp --count "$CONNS" --settle "$SETTLE" --pattern "$pattern" \
            --name redis-server)")
        stop "$REDIS_PID"
        start_nginx
        results+=("$(python3 bench/idle_conns.py --port "$NGINX_PORT" --pid "$NGINX_WORKER" \
            --proto http --count "$CONNS" --settle "$SETTLE" --pattern "$pattern" --name nginx)")
        stop "$NGINX_PID"
    done
    echo
    echo "## memory per idle connection, $CONNS connections (RSS delta / connections, read ${SETTLE} s after)"
    echo
    echo "| server | RSS before | connected | after one request each | burst: RSS at the last reply | burst: RSS after | bytes/conn idle | bytes/conn after one request | bytes/conn after a burst |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${results[@]}" | python3 -c '
import json, sys
rows = {}
for line in sys.stdin:
    r = json.loads(line)
    rows.setdefault(r["server"], {})[r["pattern"]] = r
for server, p in rows.items():
    a, b = p["idle-then-request"], p["burst"]
    print("| %s | %d kB | %d kB | %d kB | %d kB | %d kB | %d | %d | %d |" % (server,
          a["rss_before_kb"], a["rss_connected_kb"], a["rss_after_request_kb"],
          b["rss_peak_kb"], b["rss_after_request_kb"], a["bytes_per_conn_idle"],
          a["bytes_per_conn_after_request"], b["bytes_per_conn_after_request"]))'
fi

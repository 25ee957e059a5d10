#!/usr/bin/env bash
# The seed article's graph (Nginx vs Apache) with our own code: framesim-server's async
# mode against its thread-per-connection mode (`--mode threads`: std threads, blocking
# sockets, the same framer and service), at 10, 100, 1,000 and 10,000 concurrent
# connections, in two scenarios:
#
#   all_active  redis-benchmark -t get -P 1 -c N: every connection busy all the time;
#   50_active   N - 50 connections held open by bench/idle_conns.py --hold (one PING each,
#               then idle, as browsers keep connections) plus redis-benchmark -c 50: the
#               C10K case of the seed, many clients of which few talk at any moment.
#
# Each point is a fresh server; it records requests/s, the server's peak RSS (VmHWM) and
# its peak thread count. Writes docs/async-vs-threads.csv and docs/async-vs-threads.svg
# (drawn by bench/plot_async_vs_threads.py).
# Knobs (env): REQUESTS (200000 per point), CONNS ("10 100 1000 10000"),
#              SCENARIOS ("all_active 50_active"), PORT (7382).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-7382}
REQUESTS=${REQUESTS:-200000}
CONNS=${CONNS:-10 100 1000 10000}
SCENARIOS=${SCENARIOS:-all_active 50_active}
ACTIVE=50
CSV=docs/async-vs-threads.csv
SVG=docs/async-vs-threads.svg

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if ! command -v redis-benchmark >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
fi

cargo build --release -p framesim-server >&2
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$target/release/framesim-server

tmp=$(mktemp -d)
SERVER=
SAMPLER=
HOLDER=
cleanup() {
    for p in $HOLDER $SAMPLER $SERVER; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "the server did not start" >&2
    exit 1
}

stop() { # pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# One point: writes "requests/s peak_rss_kb peak_threads" to $tmp/point.
point() { # mode scenario connections
    local mode=$1 scenario=$2 c=$3 clients=$3
    "$BIN" --listen "127.0.0.1:$PORT" --mode "$mode" --max-connections 12000 \
        2>>"$tmp/server.log" &
    SERVER=$!
    wait_port
    # Peak threads: sampled, since /proc only shows the current count.
    (
        peak=0
        while kill -0 "$SERVER" 2>/dev/null; do
            t=$(awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER/status" 2>/dev/null || echo 0)
            if ((t > peak)); then
                peak=$t
                echo "$peak" >"$tmp/threads"
            fi
            sleep 0.05
        done
    ) &
    SAMPLER=$!
    if [[ $scenario == 50_active ]] && ((c > ACTIVE)); then
        clients=$ACTIVE
        python3 bench/idle_conns.py --port "$PORT" --count $((c - ACTIVE)) --hold \
            >"$tmp/holder" &
        HOLDER=$!
        for _ in $(seq 600); do
            grep -q ready "$tmp/holder" && break
            kill -0 "$HOLDER" 2>/dev/null || break
            sleep 0.1
        done
        grep -q ready "$tmp/holder" || { echo "idle connections failed" >&2; exit 1; }
    elif [[ $scenario == 50_active ]]; then
        clients=$c
    fi
    local rps
    rps=$(timeout 600 redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$clients" -P 1 \
        -n "$REQUESTS" -t get --csv 2>/dev/null | tr -d '"' | awk -F, 'NR > 1 { print $2 }')
    local hwm
    hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER/status")
    if [[ -n $HOLDER ]]; then
        stop "$HOLDER"
        HOLDER=
    fi
    stop "$SAMPLER"
    stop "$SERVER"
    SAMPLER= SERVER=
    echo "${rps:-0} $hwm $(cat "$tmp/threads" 2>/dev/null || echo 0)" >"$tmp/point"
    rm -f "$tmp/threads" "$tmp/holder"
}

mkdir -p docs
echo "scenario,mode,connections,requests_per_s,peak_rss_kb,peak_threads" >"$CSV"
for scenario in $SCENARIOS; do
    for c in $CONNS; do
        # Alternate the modes point by point so that background load hits both alike.
        for mode in async threads; do
            point "$mode" "$scenario" "$c"
            read -r rps hwm threads <"$tmp/point"
            echo "$scenario,$mode,$c,$rps,$hwm,$threads" | tee -a "$CSV" >&2
        done
    done
done

python3 bench/plot_async_vs_threads.py "$CSV" "$SVG"

echo
echo "## async vs thread per connection, redis-benchmark -t get -P 1 -n $REQUESTS"
python3 - "$CSV" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {(r["scenario"], r["mode"], int(r["connections"])): r for r in rows}
for scenario in dict.fromkeys(r["scenario"] for r in rows):
    print(f"\n### {scenario}\n")
    print("| connections | async req/s | threads req/s | async / threads "
          "| async peak RSS | threads peak RSS | threads (peak) |")
    print("|---|---|---|---|---|---|---|")
    conns = sorted({int(r["connections"]) for r in rows if r["scenario"] == scenario})
    for c in conns:
        a, t = by.get((scenario, "async", c)), by.get((scenario, "threads", c))
        if not a or not t:
            continue
        ra, rt = float(a["requests_per_s"]), float(t["requests_per_s"])
        print(f"| {c} | {ra:.0f} | {rt:.0f} | {ra / rt if rt else 0:.2f}x | "
              f"{int(a['peak_rss_kb']) / 1024:.1f} MiB | {int(t['peak_rss_kb']) / 1024:.1f} MiB | "
              f"{t['peak_threads']} |")
    a100, a10k = by.get((scenario, "async", 100)), by.get((scenario, "async", 10000))
    if a100 and a10k:
        x = float(a10k["requests_per_s"]) / float(a100["requests_per_s"])
        print(f"\nasync at 10,000 / async at 100: {x:.2f} "
              f"(target >= 0.80) {'MET' if x >= 0.8 else 'MISSED'}")
PY

#!/usr/bin/env bash
# `framesim run` (default scenario: 10,000 clients x 10 chunked RESP requests, 25 hosts,
# 200 ms ramp) beside plain turmoil doing less (bench/turmoil-echo: an echo server, the same
# clients, chunks, hosts, ramp and latency; no oracles, transcript, faults or model),
# alternated REPS times in one run. Prints each time, the medians, the ratio, and the
# 1k -> 10k growth of `framesim run`.
#
#   bench/sim-vs-turmoil.sh            # REPS=5
#   REPS=9 SEED=3 bench/sim-vs-turmoil.sh
#   FEATURES=mimalloc bench/sim-vs-turmoil.sh   # framesim built with mimalloc (echo as is)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${REPS:-5}"
seed="${SEED:-1}"

cargo build --release -q -p framesim -p turmoil-echo ${FEATURES:+--features "framesim/$FEATURES"}
framesim=target/release/framesim
echo=target/release/turmoil-echo

# Wall seconds of one `framesim run`, process start to exit.
sim_time() {
  local start end
  start=$(date +%s.%N)
  "$framesim" run --seed "$seed" "$@" >/dev/null
  end=$(date +%s.%N)
  awk "BEGIN { print $end - $start }"
}

echo_time() {
  local start end
  start=$(date +%s.%N)
  "$echo" "$@" "$seed" >/dev/null
  end=$(date +%s.%N)
  awk "BEGIN { print $end - $start }"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

sims=() echoes=() small=()
for i in $(seq "$reps"); do
  s=$(sim_time); e=$(echo_time 10000); k=$(sim_time --clients 1000)
  printf 'run %d: framesim %.3fs  turmoil-echo %.3fs  framesim --clients 1000 %.3fs\n' "$i" "$s" "$e" "$k"
  sims+=("$s") echoes+=("$e") small+=("$k")
done
ms=$(printf '%s\n' "${sims[@]}" | median)
me=$(printf '%s\n' "${echoes[@]}" | median)
mk=$(printf '%s\n' "${small[@]}" | median)
printf '\nmedians of %d: framesim run %.3fs, turmoil-echo %.3fs => %.2fx plain turmoil\n' "$reps" "$ms" "$me" "$(awk "BEGIN { print $ms / $me }")"
printf 'framesim 1,000 clients %.3fs => 1k -> 10k growth %.1fx\n' "$mk" "$(awk "BEGIN { print $ms / $mk }")"

#!/usr/bin/env bash
# The numbers of docs/scale.md: for each preset, seeds per second of `framesim sweep` with
# --jobs 1 and --jobs 2 (the sweep's own rate, from its summary line), CPU seconds a seed
# (user + system of the whole process, from /usr/bin/time, over the seeds), and the
# largest resident set (VmHWM, /usr/bin/time's "Maximum resident set size") of one seed
# and of each sweep. REPS rounds; every figure printed is the median of the rounds.
#
#   bench/scale.sh [BIN]                 # BIN: target/release/framesim, built
#   REPS=5 PRESETS="small adversarial" bench/scale.sh
#
# Sweeps keep their default determinism recheck (every 16th seed run twice), as a nightly
# sweep would. Needs GNU time at /usr/bin/time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-}"
built=""
if [[ -z "$bin" ]]; then
  cargo build --release -q -p framesim
  bin="${CARGO_TARGET_DIR:-target}/release/framesim"
  built=$(git rev-parse --short HEAD)
fi
reps="${REPS:-3}"
# Seeds per sweep: about 5-15 s of one loaded core each.
declare -A seeds=(
  [default]=0..3 [small]=0..2000 [hostile]=0..60 [bytewise]=0..1000
  [restart]=0..250 [drain]=0..120 [adversarial]=0..400 [limits]=0..600
)
read -r -a presets <<<"${PRESETS:-default small hostile bytewise restart drain adversarial limits}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One sweep: "seeds/s cpu-ms-a-seed max-rss-KiB".
sweep() {
  local preset=$1 jobs=$2 range=$3 n secs
  /usr/bin/time -f '%U %S %M' -o "$scratch/time" \
    "$bin" sweep --scenario "$preset" --seeds "$range" --jobs "$jobs" >"$scratch/out" 2>&1
  n=$((${range#*..} - ${range%..*}))
  secs=$(grep -o ' in [0-9.]*s:' "$scratch/out" | tail -1 | tr -dc '0-9.')
  read -r user sys rss <"$scratch/time"
  awk "BEGIN { printf \"%.2f %.2f %d\", $n / $secs, ($user + $sys) * 1000 / $n, $rss }"
}

echo "bin: $bin${built:+ (built at $built)}"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$reps rounds; medians"
printf '%-12s %-9s %12s %12s %14s %12s %12s %12s\n' preset seeds "j1 seeds/s" "j1 cpu ms/seed" "j1 rss KiB" \
  "j2 seeds/s" "j2 rss KiB" "1-seed KiB"
for p in "${presets[@]}"; do
  range=${seeds[$p]}
  declare -a r1=() c1=() m1=() r2=() m2=() one=()
  for _ in $(seq "$reps"); do
    read -r r c m <<<"$(sweep "$p" 1 "$range")"; r1+=("$r"); c1+=("$c"); m1+=("$m")
    read -r r c m <<<"$(sweep "$p" 2 "$range")"; r2+=("$r"); m2+=("$m")
    /usr/bin/time -f '%M' -o "$scratch/time" "$bin" sweep --scenario "$p" --seeds 0..1 --jobs 1 \
      --check-determinism off >/dev/null 2>&1
    one+=("$(cat "$scratch/time")")
  done
  printf '%-12s %-9s %12s %12s %14s %12s %12s %12s\n' "$p" "$range" \
    "$(printf '%s\n' "${r1[@]}" | median)" "$(printf '%s\n' "${c1[@]}" | median)" \
    "$(printf '%s\n' "${m1[@]}" | median)" "$(printf '%s\n' "${r2[@]}" | median)" \
    "$(printf '%s\n' "${m2[@]}" | median)" "$(printf '%s\n' "${one[@]}" | median)"
  echo "  j1 rounds: ${r1[*]} seeds/s; j2 rounds: ${r2[*]} seeds/s; cpu ms/seed: ${c1[*]}"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

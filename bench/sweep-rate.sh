#!/usr/bin/env bash
# Seeds per second of `framesim sweep` for the adversarial, hostile and small presets, one
# binary beside a peer (e.g. the same command built at another commit), alternated REPS
# times in one run. Prints each sweep's rate, the medians and the ratio NEW/OLD per preset,
# and whether the two binaries wrote the same transcript hash for every seed (`--hashes`
# of the first round; a speed-up that changes a transcript is not one).
#
#   bench/sweep-rate.sh OLD_BIN NEW_BIN
#   bench/sweep-rate.sh OLD_BIN                 # NEW_BIN: target/release/framesim, built
#   REPS=7 JOBS=1 bench/sweep-rate.sh OLD NEW
#   ADVERSARIAL=0..2000 HOSTILE=0..200 SMALL=0..2000 bench/sweep-rate.sh OLD NEW
#
# The rate is seeds / the sweep's own elapsed time (its last stderr line), with the
# sweep's default determinism recheck (every 16th seed run twice).
set -euo pipefail
cd "$(dirname "$0")/.."

old="${1:?usage: bench/sweep-rate.sh OLD_BIN [NEW_BIN]}"
new="${2:-}"
if [[ -z "$new" ]]; then
  cargo build --release -q -p framesim
  new=target/release/framesim
fi
reps="${REPS:-5}"
jobs="${JOBS:-2}"
declare -A seeds=(
  [adversarial]="${ADVERSARIAL:-0..1000}"
  [hostile]="${HOSTILE:-0..100}"
  [small]="${SMALL:-0..1000}"
)
presets=(adversarial hostile small)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Seeds per second of one sweep; its per-seed hashes go to $scratch/$3.
rate() {
  local bin=$1 preset=$2 out=$3 range=${seeds[$2]} n secs
  "$bin" sweep --scenario "$preset" --seeds "$range" --jobs "$jobs" --hashes \
    >"$scratch/$out" 2>"$scratch/$out.err"
  n=$((${range#*..} - ${range%..*}))
  secs=$(grep -o ' in [0-9.]*s:' "$scratch/$out.err" | tail -1 | tr -dc '0-9.')
  awk "BEGIN { printf \"%.1f\", $n / $secs }"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "old: $old"
echo "new: $new"
echo "jobs $jobs, $reps rounds, seeds: adversarial ${seeds[adversarial]}, hostile ${seeds[hostile]}, small ${seeds[small]}"
declare -A olds news
for i in $(seq "$reps"); do
  for p in "${presets[@]}"; do
    # Alternate which binary goes first, so neither always meets a warmer machine.
    if ((i % 2)); then
      o=$(rate "$old" "$p" "old.$p.$i"); n=$(rate "$new" "$p" "new.$p.$i")
    else
      n=$(rate "$new" "$p" "new.$p.$i"); o=$(rate "$old" "$p" "old.$p.$i")
    fi
    printf 'round %d %-12s old %8s seeds/s  new %8s seeds/s\n' "$i" "$p" "$o" "$n"
    olds[$p]+="$o "
    news[$p]+="$n "
  done
done

echo
printf '%-12s %14s %14s %8s  %s\n' preset "old (median)" "new (median)" new/old transcripts
for p in "${presets[@]}"; do
  mo=$(printf '%s\n' ${olds[$p]} | median)
  mn=$(printf '%s\n' ${news[$p]} | median)
  differ=$(diff "$scratch/old.$p.1" "$scratch/new.$p.1" | grep -c '^>' || true)
  same=$([[ "$differ" == 0 ]] && echo "identical" || echo "$differ seeds differ")
  printf '%-12s %14.1f %14.1f %7.2fx  %s\n' "$p" "$mo" "$mn" "$(awk "BEGIN { print $mn / $mo }")" "$same"
done

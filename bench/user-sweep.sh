#!/usr/bin/env bash
# A user's `sweep!` as `cargo test` runs it: a crate outside this workspace (the README's
# frame echo server and test, from sim/tests/guide.rs) depending on framesim by path, with
# the profile setting docs/guide.md recommends, swept over SEEDS (default 0..1000) of 32
# clients with hostile defaults. Runs it REPS times with FRAMESIM_JOBS=1 and with every
# core, alternated; prints each time, the medians and the speed-up.
#
#   bench/user-sweep.sh                 # REPS=3, SEEDS=0..1000
#   OPT=0 bench/user-sweep.sh           # without the profile setting
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
reps="${REPS:-3}"
seeds="${SEEDS:-0..1000}"
dir="${TMPDIR:-/tmp}/framesim-user-sweep"
mkdir -p "$dir/src" "$dir/tests"

cat > "$dir/Cargo.toml" <<TOML
[package]
name = "my-server"
version = "0.1.0"
edition = "2021"

[dependencies]
framesim-listener = { path = "$root/listener" }
tokio = { version = "1", features = ["rt", "net", "io-util", "time", "macros", "sync"] }

[dev-dependencies]
framesim = { path = "$root/sim" }
bytes = "1"

[workspace]
TOML
if [ "${OPT:-2}" != 0 ]; then
  printf '\n[profile.dev.package."*"]\nopt-level = 2\n' >> "$dir/Cargo.toml"
fi
# The guide's server (its module body, unindented) and its test.
python3 - "$root/sim/tests/guide.rs" "$dir" <<'PY'
import sys
guide, out = open(sys.argv[1]).read(), sys.argv[2]
i, j = guide.index("mod my_server {"), guide.index("use framesim::harness::")
body = guide[i:j].strip().split("\n")[1:-1]
open(out + "/src/lib.rs", "w").write("\n".join(l[4:] if l.startswith("    ") else l for l in body) + "\n")
open(out + "/tests/sim.rs", "w").write(guide[j:])
PY

cd "$dir"
cargo test -q --test sim --no-run 2>/dev/null
secs() { FRAMESIM_JOBS="$1" FRAMESIM_SEEDS="$seeds" cargo test -q --test sim 2>&1 \
  | grep -o 'finished in [0-9.]*s' | grep -o '[0-9.]*'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
cores=$(nproc)
ones=() alls=()
for i in $(seq "$reps"); do
  o=$(secs 1); a=$(secs "$cores")
  echo "run $i: 1 job ${o}s, $cores jobs ${a}s"
  ones+=("$o"); alls+=("$a")
done
m1=$(printf '%s\n' "${ones[@]}" | median); ma=$(printf '%s\n' "${alls[@]}" | median)
echo "seeds $seeds, 32 clients, hostile defaults, opt-level ${OPT:-2} for dependencies"
echo "median: 1 job ${m1}s, $cores jobs ${ma}s; speed-up $(awk "BEGIN { printf \"%.2f\", $m1 / $ma }")x"

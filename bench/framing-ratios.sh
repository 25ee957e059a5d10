#!/usr/bin/env bash
# Runs the framing benchmarks (criterion) and prints, per row, the median throughput of
# every decoder and the ratio ours/peer (peer median time / our median time, same bytes).
#
#   bench/framing-ratios.sh                  # run all rows (a few minutes), then the tables
#   bench/framing-ratios.sh 'lines_whole'    # only rows matching a criterion filter
#   bench/framing-ratios.sh --no-run         # tables from the last run's JSON only
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == --no-run ]]; then
    shift
else
    cargo bench -p framesim-server --bench framing -- "$@" >&2
fi

target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

python3 - "$target/criterion" <<'PY'
import json, os, sys
from collections import defaultdict

root = sys.argv[1]
rows = defaultdict(dict)  # (group, param) -> function -> (median ns, bytes)
for dirpath, _, files in os.walk(root):
    if not dirpath.endswith("/new") or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    tp = (bench.get("throughput") or {}).get("Bytes")
    rows[(bench["group_id"], bench["value_str"])][bench["function_id"]] = (
        est["median"]["point_estimate"], tp)

if not rows:
    sys.exit(f"no criterion results under {root}")

def rate(ns, nbytes):
    gbs = nbytes / ns  # bytes per ns == GB/s
    return f"{gbs:.2f} GB/s" if gbs >= 0.1 else f"{gbs * 1000:.0f} MB/s"

def key(param):
    return (0, int(param)) if param.isdigit() else (1, param)

groups = sorted({g for g, _ in rows}, key=lambda g: (g.split("_")[0], ["whole", "random", "1byte"].index(g.split("_", 1)[1]) if g.split("_", 1)[1] in ("whole", "random", "1byte") else 9))
for group in groups:
    if group == "linear_1byte":
        continue
    params = sorted((p for g, p in rows if g == group), key=key)
    # ours*: our decoders; ref_*: hand-written references (floors, not usable decoders);
    # the rest are tokio-util's codecs, the peers.
    kind = lambda f: 0 if f.startswith("ours") else 2 if f.startswith("ref_") else 1
    funcs = sorted({f for p in params for f in rows[(group, p)]}, key=lambda f: (kind(f), f))
    ours = [f for f in funcs if kind(f) != 1]
    peers = [f for f in funcs if kind(f) == 1]
    ratios = [(o, p) for o in ours for p in peers]
    print(f"\n### {group} (median throughput; ratio = ours / peer)\n")
    head = ["frame"] + funcs + [f"{o} / {p}" for o, p in ratios]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for p in params:
        r = rows[(group, p)]
        cells = [p] + [rate(*r[f]) if f in r else "-" for f in funcs]
        for o, q in ratios:
            cells.append(f"{r[q][0] / r[o][0]:.2f}x" if o in r and q in r else "-")
        print("| " + " | ".join(cells) + " |")

# Linearity: 1-byte feeding of 4x the bytes should take 4x the time.
lin = [(p, f, v) for (g, p), fs in rows.items() if g == "linear_1byte" for f, v in fs.items()]
if lin:
    print("\n### linearity, 1-byte feeding: time(1 MiB) / time(256 KiB), 4.00 = linear\n")
    print("| input | decoder | 256 KiB | 1 MiB | time ratio |")
    print("|---|---|---|---|---|")
    for p, f, (ns, nbytes) in sorted(lin):
        kind, _, size = p.partition("_")
        small = rows.get((f"{kind}_1byte", size), {}).get(f)
        if small is None:
            continue
        print(f"| {p} | {f} | {rate(*small)} | {rate(ns, nbytes)} | "
              f"{(ns / nbytes) / (small[0] / small[1]) * 4:.2f} |")

def ratio(group, param, o, q):
    r = rows.get((group, param), {})
    return r[q][0] / r[o][0] if o in r and q in r else None

print("\n### targets\n")
for label, group, param, o, q, want in [
    ("64 B lines, ours (decode) vs LinesCodec", "lines_whole", "64", "ours", "lines_codec", 1.5),
    ("64 B lines, ours (decode_each) vs LinesCodec", "lines_whole", "64", "ours_each", "lines_codec", 3.0),
    ("RESP SET stream, ours vs redis-protocol", "resp_whole", "set", "ours", "redis_protocol", 1.5),
    ("RESP GET stream, ours vs redis-protocol", "resp_whole", "get", "ours", "redis_protocol", 1.5),
    ("RESP PING (multibulk) stream, ours vs redis-protocol", "resp_whole", "ping_mbulk", "ours", "redis_protocol", 1.5),
    ("RESP SET stream, random chunks, ours vs redis-protocol", "resp_random", "set", "ours", "redis_protocol", 1.5),
    ("64 B length frames, ours (decode) vs LengthDelimitedCodec", "length_whole", "64", "ours", "length_delimited", 1.5),
    ("64 B length frames, ours (decode_each) vs LengthDelimitedCodec", "length_whole", "64", "ours_each", "length_delimited", 1.5),
    ("16 B length frames, ours (decode) vs LengthDelimitedCodec", "length_whole", "16", "ours", "length_delimited", 1.5),
    ("16 B length frames, ours (decode_each) vs LengthDelimitedCodec", "length_whole", "16", "ours_each", "length_delimited", 1.5),
]:
    x = ratio(group, param, o, q)
    if x is not None:
        print(f"- {label}: {x:.2f}x (target >= {want}x) {'MET' if x >= want else 'MISSED'}")
PY

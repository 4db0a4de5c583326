#!/bin/sh
# bench/shard.sh: quern-shard's tokens per second per core on >= 1 GB of
# real documents (/usr/share/doc and /usr/share/man as a document stream,
# the corpus of bench/docstream.sh), against the raw encoder on the same
# text (quern-tokenize --count), and the ratio: what reading the stream,
# spilling, ordering, packing and the manifest cost on top of encoding.
# Per core is tokens over CPU seconds (user + system), so that a loaded
# machine skews it less than wall time would; both are printed.
# Run from the build directory after make (make bench runs it).
#
#   QN_BENCH_DIR        where the corpus is kept (default /tmp/quern-bench)
#   QN_BENCH_MB         corpus size in MB of JSONL (default 1024)
#   QN_BENCH_TOKENIZER  the tokenizer (default npm tiktoken's gpt2.json)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
mb=${QN_BENCH_MB:-1024}
tok=${QN_BENCH_TOKENIZER:-${QN_PEERS:-$top/tests/peers/node_modules}/tiktoken/encoders/gpt2.json}
mkdir -p "$dir"
corpus=$dir/corpus-$mb.jsonl.zst
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$tok" ] || { echo "no tokenizer $tok"; exit 1; }
[ -f "$corpus" ] || "$build/bench/docstream-bench" make "$corpus" "$mb" /usr/share/doc /usr/share/man

# The same text for the raw encoder: each document's text, in files of
# about 16 MB cut between documents (quern-tokenize reads a file as one
# text).
txt=$dir/text-$mb
if [ ! -f "$txt/.done" ]; then
	rm -rf "$txt"; mkdir -p "$txt"
	zstd -dc "$corpus" | python3 -c '
import json, sys
d, n, size, out = sys.argv[1], 0, 0, None
for line in sys.stdin.buffer:
    t = json.loads(line)["text"].encode()
    if out is None or size > 16 << 20:
        if out: out.close()
        out = open("%s/%05d.txt" % (d, n), "wb"); n += 1; size = 0
    out.write(t); size += len(t)
out.close()' "$txt"
	touch "$txt/.done"
fi
bytes=$(cat "$txt"/*.txt | wc -c)
echo "== corpus: $(du -m "$corpus" | cut -f1) MB compressed, $((bytes / 1000000)) MB of text"

# run NAME CMD...: runs CMD under /usr/bin/time; sets wall and cpu.
run() {
	name=$1; shift
	/usr/bin/time -f "%e %U %S" -o "$dir/time" "$@"
	set -- $(cat "$dir/time")
	wall=$1; cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { print u + s }')
}

run zstd sh -c "zstd -dc '$corpus' > /dev/null"
z_wall=$wall; z_cpu=$cpu

run tokenize "$build/quern-tokenize" -t "$tok" --count "$txt"/*.txt > "$dir/count"
raw_tokens=$(cat "$dir/count")
raw_wall=$wall; raw_cpu=$cpu

rm -rf "$dir/shards" "$dir/shard.db"*
run shard "$build/quern-shard" -q -j1 -m "$dir/shard.db" -t "$tok" -o "$dir/shards" "$corpus"
sh_wall=$wall; sh_cpu=$cpu
# Document tokens: what the shards hold less one end-of-text per document.
set -- $(awk '$1 == "shard" { t += $4 } $1 == "docs" { d += $3 } END { print t, d }' "$dir/shards/shards.meta")
sh_tokens=$(($1 - $2)); docs=$2

rm -rf "$dir/shards" "$dir/shard.db"*
run shard-spill "$build/quern-shard" -q -j1 --memory 0 -m "$dir/shard.db" -t "$tok" -o "$dir/shards" "$corpus"
sp_wall=$wall; sp_cpu=$cpu

rm -rf "$dir/shards" "$dir/shard.db"*
run shard-jN "$build/quern-shard" -q -j"$(nproc)" -m "$dir/shard.db" -t "$tok" -o "$dir/shards" "$corpus"
jn_wall=$wall; jn_cpu=$cpu

awk -v rt="$raw_tokens" -v rw="$raw_wall" -v rc="$raw_cpu" -v st="$sh_tokens" -v sw="$sh_wall" -v sc="$sh_cpu" \
    -v jw="$jn_wall" -v jc="$jn_cpu" -v pw="$sp_wall" -v pc="$sp_cpu" -v zw="$z_wall" -v zc="$z_cpu" -v docs="$docs" -v n="$(nproc)" -v b="$bytes" 'BEGIN {
	printf "%-38s %12s %8s %8s %14s %10s\n", "", "tokens", "wall s", "cpu s", "tokens/cpu-s", "MB/cpu-s"
	printf "%-38s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-tokenize --count (raw)", rt, rw, rc, rt / rc, b / 1e6 / rc
	printf "%-38s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j1", st, sw, sc, st / sc, b / 1e6 / sc
	printf "%-38s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j1 --memory 0 (spilled)", st, pw, pc, st / pc, b / 1e6 / pc
	printf "%-38s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j" n, st, jw, jc, st / jc, b / 1e6 / jc
	printf "documents: %d; token counts differ by %.4f%% (documents encoded apart vs. 16 MB texts)\n", docs, 100 * (st - rt) / rt
	printf "ratio quern-shard -j1 / raw encoder, tokens per cpu-second: %.3f (goal >= 0.90)\n", (st / sc) / (rt / rc)
	printf "ratio with every token spilled to disk: %.3f\n", (st / pc) / (rt / rc)
	printf "decompressing the stream alone (zstd -dc): %.1f cpu s, %.0f%% of quern-shard -j1\n", zc, 100 * zc / sc
	printf "speed-up of -j%d over -j1, wall: %.2fx\n", n, sw / jw
}'
rm -rf "$dir/shards" "$dir/shard.db"*

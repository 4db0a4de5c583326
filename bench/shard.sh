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
# Two ratios, because the raw encoder reads plain text and quern-shard a
# compressed document stream:
#   (a) quern-shard -j1 / raw encoder: the issue's definition (goal 0.90);
#       it charges quern-shard for decompressing and parsing the JSONL;
#   (b) quern-shard -j1 / read+encode, where read+encode is
#       quern-tokenize --docs --count over the same JSONL (the document
#       reader, then each document encoded on its own, nothing kept):
#       what quern-shard adds beyond reading and encoding (the token
#       store, ordering, packing, indexes, shards.meta, the manifest).
# The cost split is printed from the same runs: reading+parsing =
# read+encode - raw encoder (zstd -dc alone is shown for scale),
# encoding = the raw encoder, packing+index+manifest = quern-shard -
# read+encode.  CPU seconds of a loaded machine are noisy; with
# QN_BENCH_CALLGRIND=MB the same three programs also run under valgrind's
# callgrind on the first MB of the stream, whose instruction counts are
# the same run to run (the tokenizer's load is subtracted).
#
#   QN_BENCH_DIR        where the corpus is kept (default /tmp/quern-bench)
#   QN_BENCH_MB         corpus size in MB of JSONL (default 1024)
#   QN_BENCH_TOKENIZER  the tokenizer (default npm tiktoken's gpt2.json)
#   QN_BENCH_CALLGRIND  MB of the stream to count instructions on (default
#                       0: off; 10 takes about a minute per program)
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

# Read+encode: the document reader and the encoder, one document at a
# time, nothing kept (one count a line; summed).
run docs sh -c "'$build/quern-tokenize' -t '$tok' --docs --count '$corpus' | awk '{ t += \$1 } END { print t }' > '$dir/count'"
docs_tokens=$(cat "$dir/count")
de_wall=$wall; de_cpu=$cpu

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

awk -v dt="$docs_tokens" -v dw="$de_wall" -v dc="$de_cpu" -v rt="$raw_tokens" -v rw="$raw_wall" -v rc="$raw_cpu" -v st="$sh_tokens" -v sw="$sh_wall" -v sc="$sh_cpu" \
    -v jw="$jn_wall" -v jc="$jn_cpu" -v pw="$sp_wall" -v pc="$sp_cpu" -v zw="$z_wall" -v zc="$z_cpu" -v docs="$docs" -v n="$(nproc)" -v b="$bytes" 'BEGIN {
	printf "%-42s %12s %8s %8s %14s %10s\n", "", "tokens", "wall s", "cpu s", "tokens/cpu-s", "MB/cpu-s"
	printf "%-42s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-tokenize --count (raw)", rt, rw, rc, rt / rc, b / 1e6 / rc
	printf "%-42s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-tokenize --docs --count (read+enc)", dt, dw, dc, dt / dc, b / 1e6 / dc
	printf "%-42s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j1", st, sw, sc, st / sc, b / 1e6 / sc
	printf "%-42s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j1 --memory 0 (spilled)", st, pw, pc, st / pc, b / 1e6 / pc
	printf "%-42s %12d %8.1f %8.1f %14.0f %10.2f\n", "quern-shard -j" n, st, jw, jc, st / jc, b / 1e6 / jc
	printf "documents: %d; token counts differ by %.4f%% (documents encoded apart vs. 16 MB texts)\n", docs, 100 * (st - rt) / rt
	if (dt != st)
		printf "warning: read+encode made %d tokens, quern-shard %d (rejected documents?)\n", dt, st
	printf "(a) ratio quern-shard -j1 / raw encoder, tokens per cpu-second: %.3f (goal >= 0.90)\n", (st / sc) / (rt / rc)
	printf "(b) ratio quern-shard -j1 / read+encode of the same JSONL: %.3f\n", (st / sc) / (dt / dc)
	printf "(c) wall time, tokens per second: quern-shard -j1 (its reader thread alongside) / raw encoder: %.3f\n", (st / sw) / (rt / rw)
	printf "cost split of quern-shard -j1 (cpu s): reading+parsing %.1f (%.0f%%), encoding %.1f (%.0f%%), packing+index+manifest %.1f (%.0f%%)\n", \
	    dc - rc, 100 * (dc - rc) / sc, rc, 100 * rc / sc, sc - dc, 100 * (sc - dc) / sc
	printf "ratio with every token spilled to disk: %.3f\n", (st / pc) / (rt / rc)
	printf "decompressing the stream alone (zstd -dc): %.1f cpu s, %.0f%% of quern-shard -j1\n", zc, 100 * zc / sc
	printf "speed-up of -j%d over -j1, wall: %.2fx\n", n, sw / jw
}'
rm -rf "$dir/shards" "$dir/shard.db"*

# Instruction counts (valgrind --tool=callgrind): stable under load.
cgmb=${QN_BENCH_CALLGRIND:-0}
if [ "$cgmb" -gt 0 ] && command -v valgrind > /dev/null; then
	cg=$dir/cg-$cgmb
	mkdir -p "$cg"
	# Whole lines only: the first cgmb MB of the stream, the last partial line dropped.
	zstd -dc "$corpus" | head -c $((cgmb << 20)) | sed '$d' | zstd -q -3 -f -o "$cg/in.jsonl.zst"
	zstd -dc "$cg/in.jsonl.zst" | python3 -c '
import json, sys
out = open(sys.argv[1], "wb")
for line in sys.stdin.buffer:
    out.write(json.loads(line)["text"].encode())' "$cg/in.txt"
	: > "$cg/empty.txt"
	# ir NAME CMD...: instructions of CMD into $ir.
	ir() {
		name=$1; shift
		valgrind --tool=callgrind --callgrind-out-file="$cg/$name.out" "$@" > /dev/null 2> "$cg/$name.err"
		ir=$(sed -n 's/.*Collected : //p' "$cg/$name.err")
	}
	ir load "$build/quern-tokenize" -t "$tok" --count "$cg/empty.txt"; load=$ir
	ir raw "$build/quern-tokenize" -t "$tok" --count "$cg/in.txt"; raw=$ir
	ir docs "$build/quern-tokenize" -t "$tok" --docs --count "$cg/in.jsonl.zst"; de=$ir
	rm -rf "$cg/shards" "$cg/shard.db"*
	ir shard "$build/quern-shard" -q -j1 -m "$cg/shard.db" -t "$tok" -o "$cg/shards" "$cg/in.jsonl.zst"; sh=$ir
	awk -v l="$load" -v r="$raw" -v d="$de" -v s="$sh" -v mb="$cgmb" 'BEGIN {
		r -= l; d -= l; s -= l
		printf "callgrind, first %d MB of the stream, instructions less the tokenizer load (%.0f M):\n", mb, l / 1e6
		printf "  raw encoder %.0f M, read+encode %.0f M, quern-shard -j1 %.0f M\n", r / 1e6, d / 1e6, s / 1e6
		printf "  split: reading+parsing %.0f M (%.1f%%), encoding %.0f M (%.1f%%), packing+index+manifest %.0f M (%.1f%%)\n", \
		    (d - r) / 1e6, 100 * (d - r) / s, r / 1e6, 100 * r / s, (s - d) / 1e6, 100 * (s - d) / s
		printf "  (a) raw encoder / quern-shard: %.3f   (b) read+encode / quern-shard: %.3f\n", r / s, d / s
	}'
	rm -rf "$cg"
fi

#!/bin/sh
# bench/dedup.sh: quern-dedup's speed and accuracy.
#
#  1. Signing: MB/s of text per core (quern-dedup sign -j1, then -j2) on
#     real text (/usr/share/doc collected), against the goal of 50 MB/s
#     and datatrove's published 0.8 MB/s per task; datasketch's MinHash
#     (pip install datasketch) side by side on the same text if present.
#  2. Clustering: synthetic signature files (bench/dedup-bench) of
#     QN_BENCH_DEDUP_DOCS documents (default 2 M), with --mem 2G and
#     with --mem 256M (spilled runs): seconds and peak memory,
#     extrapolated linearly to 10 M documents (goal <= 10 min, <= 8 GB;
#     memory grows less than linearly: the sort buffers stop at --mem).
#     QN_BENCH_DEDUP_DOCS=10000000 measures 10 M directly (5.2 GB of
#     signature files on disk).
#  3. Accuracy: bench/dedup-accuracy.py (edited copies of real documents
#     with known Jaccard; recall by band, precision).
# Run from the build directory after `make bench/dedup-bench`.
#
#   QN_BENCH_DIR         where the files go (default /tmp/quern-bench)
#   QN_BENCH_DEDUP_DOCS  documents for the clustering run (default 2000000)
#   QN_BENCH_DEDUP_MB    MB of text for the signing run (default 200)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}/dedup
ndocs=${QN_BENCH_DEDUP_DOCS:-2000000}
mb=${QN_BENCH_DEDUP_MB:-200}
mkdir -p "$dir"
export PATH="$build:$PATH"
export QUERN_MANIFEST="$dir/bench.db"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# Wall seconds, peak RSS in KB and CPU seconds (user + system) of a
# command: the machine may be shared, so CPU time is the fair speed.
measure() {
	/usr/bin/time -f '%e %M %U %S' -o "$dir/.time" "$@" >/dev/null
	awk '{ print $1, $2, $3 + $4 }' "$dir/.time"
}

# ---- 1. signing ----
corpus=$dir/text-$mb.jsonl
if [ ! -f "$corpus" ]; then
	quern-collect -q -o "$dir/doc.jsonl" /usr/share/doc /usr/share/man
	head -c "${mb}000000" "$dir/doc.jsonl" | sed '$d' > "$corpus"
	rm -f "$dir/doc.jsonl"
fi
text=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])))" "$corpus")
echo "== signing $(echo "$text" | awk '{ printf "%.1f", $1 / 1e6 }') MB of text ($(wc -l < "$corpus") documents), word 5-grams, 14 x 8"
for j in 1 2; do
	set -- $(measure quern-dedup sign -q -j$j -o "$dir/s.sig" "$corpus")
	echo "$text $1 $3 $j" | awk '{ r = $1 / 1e6 / $2; c = $1 / 1e6 / $3; printf "  -j%d: %.1f s wall (%.1f MB/s), %.1f s CPU: %.1f MB/s per core; %.2fx the 50 MB/s goal, %.0fx datatrove (0.8 MB/s per task)\n", $4, $2, r, $3, c, c / 50, c / 0.8 }'
done
if python3 -c 'import datasketch' 2>/dev/null; then
	head -c 20000000 "$corpus" | sed '$d' > "$dir/slice.jsonl"
	python3 - "$dir/slice.jsonl" <<'PY'
import json, re, sys, time
from datasketch import MinHash
word = re.compile(r"\w+")
docs = [json.loads(l)["text"] for l in open(sys.argv[1])]
n = sum(len(d.encode()) for d in docs)
t = time.time()
for d in docs:
    ws = word.findall(d.lower())
    m = MinHash(num_perm=112)
    m.update_batch([" ".join(ws[i:i + 5]).encode() for i in range(max(1, len(ws) - 4))])
dt = time.time() - t
print("  datasketch MinHash(112), same shingles, one core: %.1f MB/s" % (n / 1e6 / dt))
PY
	set -- $(measure quern-dedup sign -q -j1 -o "$dir/s2.sig" "$dir/slice.jsonl")
	python3 -c "import json,sys; n=sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])); print('  quern-dedup sign -j1 on the same slice: %.1f MB/s' % (n/1e6/float(sys.argv[2])))" "$dir/slice.jsonl" "$3"
else
	echo "  (datasketch not installed: pip install datasketch for the side-by-side run)"
fi
rm -f "$dir/s.sig" "$dir/s2.sig"

# ---- 2. clustering ----
echo "== clustering $ndocs synthetic documents (12% copies: 2% exact, 10% at about 0.9)"
"$build/bench/dedup-bench" synth "$dir/synth.sig" "$ndocs"
for mem in 2G 256M; do
	set -- $(measure quern-dedup cluster -q --mem $mem -o "$dir/synth.tsv" "$dir/synth.sig")
	echo "$ndocs $1 $2 $3 $mem" | awk '{ printf "  --mem %s: %.1f s wall, %.1f s CPU, peak %.0f MB; linear to 10 M documents: %.0f s wall, at most %.1f GB (goal 600 s, 8 GB)\n", $5, $2, $4, $3 / 1024, $2 * 1e7 / $1, $3 * 1e7 / $1 / 1048576 }'
done
echo "  duplicates found: $(grep -c '^dup' "$dir/synth.tsv")"
rm -f "$dir/synth.sig" "$dir/synth.tsv"

# ---- 3. accuracy ----
echo "== accuracy"
python3 "$top/bench/dedup-accuracy.py" "$dir/accuracy" 250

#!/bin/sh
# bench/clean.sh: quern-clean's throughput with every default step on, on
# the documents quern-collect makes of /usr/share/doc and /usr/share/man:
# MB/s per core at -j1 and -j2 (CPU time and wall time), each step's
# share of the CPU time and the rest's (reading, parsing and writing the
# JSON, the manifest), and, side by side on a slice of the same documents,
# the Python implementation of the same filter definitions
# (tests/golden/clean-ref.py, plain CPython like datatrove's filters).
# Dolma's published rate for its taggers is about 2.3 MB/s per core.
# Run from the build directory (make bench BENCH=clean).
#
#   QN_BENCH_DIR   where the corpus is kept (default /tmp/quern-bench)
#   QN_BENCH_PY_MB the slice for the Python peer, in MB (default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
pymb=${QN_BENCH_PY_MB:-5}
goal=100
dolma=2.3
mkdir -p "$dir"
corpus=$dir/clean-docs.jsonl.zst
db=$dir/clean-bench.db
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$corpus" ] || "$build/quern-collect" -q -m "$db" -o "$corpus" /usr/share/doc /usr/share/man
mb=$(zstd -dc < "$corpus" | wc -c)
echo "== corpus: $(zstd -dc < "$corpus" | wc -l) documents, $(awk "BEGIN{printf \"%.1f\", $mb/1e6}") MB of JSONL"

# One run: prints wall and CPU seconds, and the profile lines.
run() {
	j=$1
	/usr/bin/time -f '%e %U %S' -o "$dir/time" "$build/quern-clean" -q -m "$db" -j "$j" --profile \
		-o "$dir/out.jsonl.zst" "$corpus" 2> "$dir/profile"
	read -r wall user sys < "$dir/time"
	text=$(sed -n 's/.*profile: \([0-9.]*\) MB in.*/\1/p' "$dir/profile")
	cpu=$(awk "BEGIN{print $user + $sys}")
	echo "-j$j: $text MB of text in ${wall} s wall, ${cpu} s CPU:" \
		"$(awk "BEGIN{printf \"%.1f MB/s per core (CPU), %.1f MB/s wall\", $text/$cpu, $text/$wall}")"
	eval "cpu_$j=$cpu wall_$j=$wall text=$text"
}
run 1
grep 'profile: [a-z_0-9]* ' "$dir/profile" | sed 's/^quern-clean: profile: /   step /'
# What the costliest steps allow on their own: the text over the step's
# CPU seconds, the rate the run could not pass were everything else free.
for s in langid gopher_repetition; do
	awk -v s="$s" -v t="$text" -v g="$goal" '$2 == "profile:" && $3 == s && $4 > 0 {
		printf "   %s alone: %.2f s CPU, so at most %.1f MB/s per core with it on (%.0f%% of the %d MB/s goal'"'"'s time)\n",
			s, $4, t / $4, 100 * $4 / (t / g), g }' "$dir/profile"
done
run 2
echo "-j2 / -j1 wall speed-up: $(awk "BEGIN{printf \"%.2f\", $wall_1/$wall_2}") (2 cores, shared with whatever else runs)"
per=$(awk "BEGIN{print $text/$cpu_1}")
echo "ratio to the goal ($goal MB/s per core): $(awk "BEGIN{printf \"%.2f\", $per/$goal}")"
echo "ratio to Dolma's published $dolma MB/s per core: $(awk "BEGIN{printf \"%.1f\", $per/$dolma}")"

# The Python peer on a slice: the same measures, no langid, no PII.
if command -v python3 >/dev/null 2>&1; then
	zstd -dc < "$corpus" | head -c $((pymb * 1000000)) | sed '$d' > "$dir/slice.jsonl"
	"$build/quern-clean" -q -m "$db" -j1 --no-langid --no-gopher-repetition --no-gopher-quality --no-c4 \
		--no-fineweb --no-pii -o "$dir/norm.jsonl" "$dir/slice.jsonl"
	smb=$(wc -c < "$dir/norm.jsonl")
	/usr/bin/time -f '%U %S' -o "$dir/time" "$build/quern-clean" -q -m "$db" -j1 --no-langid --no-pii \
		--dry-run -o /dev/null "$dir/norm.jsonl"
	read -r u s < "$dir/time"
	qc=$(awk "BEGIN{print $u + $s}")
	/usr/bin/time -f '%U %S' -o "$dir/time" python3 "$top/tests/golden/clean-ref.py" < "$dir/norm.jsonl" > /dev/null
	read -r u s < "$dir/time"
	pc=$(awk "BEGIN{print $u + $s}")
	echo "same filters on $(awk "BEGIN{printf \"%.1f\", $smb/1e6}") MB: quern-clean ${qc} s CPU," \
		"Python reference ${pc} s CPU: quern is $(awk "BEGIN{printf \"%.0f\", $pc/($qc > 0 ? $qc : 0.001)}")x faster"
	rm -f "$dir/slice.jsonl" "$dir/norm.jsonl"
fi
rm -f "$dir/out.jsonl.zst" "$dir/time" "$dir/profile"

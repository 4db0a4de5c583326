#!/bin/sh
# bench/collect.sh: quern-collect's throughput, in MB/s of text written
# (the documents' text bytes, decompressed and extracted) per second of
# wall time, on real inputs:
#
#   1. /usr/share/doc + /usr/share/man (mixed: mostly gzip'd text, some
#      HTML, binaries skipped), -j1 and -j2;
#   2. /usr/share/man alone (gzip'd man pages: compressed plain text), -j1,
#      beside `zcat` over the same files (the decompression floor);
#   3. python3.11-doc's HTML pages with text extraction, -j1;
#   4. a WARC of the same pages (one gzip member per record, written by
#      npm's warcio through bench/collect-mkwarc.mjs), -j1.
#
# Goals (issue 3): >= 100 MB/s per core for compressed plain text, >= 30
# MB/s per core for HTML with extraction.  Besides wall time, each run
# reports MB per CPU second (user + system, from /usr/bin/time): on a
# machine shared with other work, that is the per-core figure to trust.  Each run writes to /dev/null
# (plain JSONL on stdout), so output compression is not measured.  Run
# from the build directory (quern-collect on PATH or in the cwd).
#
#   QN_BENCH_DIR   scratch space for the WARC and manifests (default /tmp/quern-bench)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
PATH=$build:$PATH
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
mkdir -p "$dir"
export QUERN_MANIFEST="$dir/collect-bench.db"
rm -f "$QUERN_MANIFEST"
py=/usr/share/doc/python3.11/html
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
# run LABEL CORES ARGS...: one quern-collect run; prints MB/s and MB/s per core.
run() {
	label=$1 cores=$2
	shift 2
	t0=$(now)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%U %S' -o "$dir/cpu" quern-collect -o - "$@" 2>"$dir/err" >/dev/null
	else
		quern-collect -o - "$@" 2>"$dir/err" >/dev/null
		echo "0 0" > "$dir/cpu"
	fi
	t1=$(now)
	cpu=$(awk '{ print $1 + $2 }' "$dir/cpu")
	mb=$(sed -n 's/.*documents (\([0-9.]*\) MB).*/\1/p' "$dir/err" | tail -n 1)
	docs=$(sed -n 's/^quern-collect: \([0-9]*\) documents.*/\1/p' "$dir/err" | tail -n 1)
	awk -v l="$label" -v mb="$mb" -v d="$docs" -v t0="$t0" -v t1="$t1" -v c="$cores" -v cpu="$cpu" 'BEGIN {
		# (a > inside printf arguments is a redirection to mawk)
		s = t1 - t0; r = 0; if (cpu > 0) r = mb / cpu
		printf "%-32s %6s docs %7.1f MB %6.2f s %7.1f MB/s %7.1f MB/s/core %7.1f MB/cpu-s\n", l, d, mb, s, mb / s, mb / s / c, r }'
	last=$(awk -v mb="$mb" -v cpu="$cpu" -v t0="$t0" -v t1="$t1" -v c="$cores" 'BEGIN { r = mb / (t1 - t0) / c; if (cpu > 0) r = mb / cpu; printf "%.1f", r }')
}

echo "== 1. /usr/share/doc + /usr/share/man"
run "doc+man -j1" 1 -j1 /usr/share/doc /usr/share/man
j1=$last
run "doc+man -j2" 2 -j2 /usr/share/doc /usr/share/man
awk -v a="$j1" -v b="$last" 'BEGIN { printf "   -j2 per core / -j1: %.2f\n", b / a }'

echo "== 2. compressed plain text: /usr/share/man (gzip)"
run "man -j1" 1 -j1 /usr/share/man
man=$last
t0=$(now)
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%U %S' -o "$dir/cpu" sh -c "find /usr/share/man -name '*.gz' -type f -print0 | xargs -0 zcat 2>/dev/null | wc -c > '$dir/zc'"
else
	find /usr/share/man -name '*.gz' -type f -print0 | xargs -0 zcat 2>/dev/null | wc -c > "$dir/zc"
	echo "0 0" > "$dir/cpu"
fi
t1=$(now)
awk -v b="$(cat "$dir/zc")" -v t0="$t0" -v t1="$t1" -v q="$man" -v cpu="$(awk '{ print $1 + $2 }' "$dir/cpu")" 'BEGIN {
	z = cpu > 0 ? b / 1e6 / cpu : b / 1e6 / (t1 - t0)
	printf "%-32s %7.1f MB/s %7.1f MB/cpu-s   quern/zcat %.2f   goal 100 MB/s/core: %.2fx\n", "peer: zcat of the same .gz", b / 1e6 / (t1 - t0), z, q / z, q / 100 }'

if [ -d "$py" ]; then
	echo "== 3. HTML with extraction: python3.11-doc"
	run "python3.11-doc HTML -j1" 1 -j1 --include '*.html' --exclude _sources --exclude _static "$py"
	html=$last
	raw=$(find "$py" -name '*.html' -not -path '*/_sources/*' -not -path '*/_static/*' -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f", s / 1e6 }')
	awk -v r="$raw" -v q="$html" -v mb="$mb" 'BEGIN { printf "   HTML in: %.1f MB; text out is %.0f%% of it; HTML in per cpu-s: %.1f MB; goal 30 MB/s/core (text out): %.2fx, (HTML in): %.2fx\n", r, 100 * mb / r, q * r / mb, q / 30, q * r / mb / 30 }'

	echo "== 4. WARC of the same pages (gzip per record)"
	warc=$dir/python-doc.warc.gz
	if [ ! -f "$warc" ] && command -v node >/dev/null 2>&1; then
		find "$py" -name '*.html' -not -path '*/_sources/*' -not -path '*/_static/*' | LC_ALL=C sort |
			awk -v p="$py" '{ u = substr($0, length(p) + 2); printf "{\"type\":\"response\",\"url\":\"https://docs.python.org/3.11/%s\",\"file\":\"%s\",\"contentType\":\"text/html; charset=utf-8\"}\n", u, $0 }' |
			QN_PEERS=${QN_PEERS:-$top/tests/peers/node_modules} node "$top/bench/collect-mkwarc.mjs" "$warc"
	fi
	if [ -f "$warc" ]; then
		run "WARC (gzip members, HTML) -j1" 1 -j1 "$warc"
		w=$last
		awk -v s="$(wc -c < "$warc")" 'BEGIN { printf "   WARC: %.1f MB stored\n", s / 1e6 }'
		awk -v w="$w" -v h="$html" 'BEGIN { printf "   WARC / loose HTML files: %.2f\n", w / h }'
	else
		echo "   (no WARC: node and npm's warcio are needed to write it)"
	fi
fi

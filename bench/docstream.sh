#!/bin/sh
# bench/docstream.sh: document stream throughput on >= 500 MB of real text
# (everything under /usr/share/doc and /usr/share/man turned into
# documents), and the JSON libraries side by side.  Run from the build
# directory after `make bench/docstream-bench` (make bench does both).
#
#   QN_BENCH_DIR   where the corpus is kept (default /tmp/quern-bench)
#   QN_BENCH_MB    corpus size in MB of JSONL (default 520)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
mb=${QN_BENCH_MB:-520}
mkdir -p "$dir"
corpus=$dir/corpus-$mb.jsonl.zst
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
[ -f "$corpus" ] || "$build/bench/docstream-bench" make "$corpus" "$mb" /usr/share/doc /usr/share/man
"$build/bench/docstream-bench" run "$corpus"

if pkg-config --exists jansson libcjson 2>/dev/null; then
	cc -O2 -I"$top/lib" -o "$dir/json-peers" "$top/bench/json-peers.c" "$build/libquern.a" \
		$(pkg-config --cflags --libs jansson libcjson libarchive libxxhash sqlite3 libzstd zlib simdjson) -lstdc++ -pthread
	# The peers build a tree per line: give them a 200 MB slice, plain.
	zstd -dc "$corpus" | head -c 200000000 | sed '$d' > "$dir/slice.jsonl"
	"$dir/json-peers" "$dir/slice.jsonl"
	rm -f "$dir/slice.jsonl"
else
	echo "(json peers skipped: apt-get install libjansson-dev libcjson-dev)"
fi

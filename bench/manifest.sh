#!/bin/sh
# bench/manifest.sh: what the manifest costs: 1 M doc events in one run
# (goal <= 2 s), then `why` on a 10 M-document manifest (goal < 50 ms),
# in process and through the quern-manifest command.  Run from the build
# directory (make bench).
#
#   QN_BENCH_DIR   where the databases go (default /tmp/quern-bench)
#   QN_BENCH_DOCS  documents in the large manifest (default 10000000)
set -eu
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
n=${QN_BENCH_DOCS:-10000000}
mkdir -p "$dir"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for i in 1 2 3; do
	rm -f "$dir/events.db" "$dir/events.db-wal" "$dir/events.db-shm"
	"$build/bench/manifest-bench" events "$dir/events.db" 1000000
done
big=$dir/why-$n.db
[ -f "$big" ] || "$build/bench/manifest-bench" build "$big" "$n"
"$build/bench/manifest-bench" why "$big" "$n" 1000
id=$(sqlite3 "$big" "SELECT doc FROM events LIMIT 1 OFFSET 12345")
echo "quern-manifest why $id (whole process, 5 runs):"
for i in 1 2 3 4 5; do
	/usr/bin/time -f "  %e s wall, %M KB" "$build/quern-manifest" -m "$big" why "$id" >/dev/null
done

#!/bin/sh
# tests/fuzz/build-collect.sh: builds quern-collect's libFuzzer targets
# (the WARC reader, the HTML extractor with charset conversion, and the
# content reader with its archive walker) with clang, instrumented.
#
#   tests/fuzz/build-collect.sh OUTDIR
#   OUTDIR/fuzz_collect_warc -max_total_time=600 CORPUS/
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-fuzz-out}
mkdir -p "$out"
san="-fsanitize=fuzzer-no-link,address,undefined"
pc="libarchive libxxhash libzstd zlib simdjson icu-uc icu-i18n gumbo"
cc="clang -g -O1 $san -I$top/lib -DQN_VERSION=\"fuzz\""
for v in haswell generic; do
	flags=""
	[ $v = haswell ] && flags="-mavx2 -mbmi -mbmi2 -mpclmul -mlzcnt"
	# shellcheck disable=SC2086
	clang++ -g -O1 -std=c++17 -fno-exceptions $san $flags -I"$top/lib" -DQN_JSON_VARIANT=$v \
		$(pkg-config --cflags simdjson) -c "$top/lib/json.cc" -o "$out/json-$v.o"
done
objs=""
for src in lib/buf.c lib/err.c lib/hash.c lib/utf8.c lib/docstream.c lib/json.c \
	collectors/content.c collectors/warc.c collectors/html.c collectors/charset.c; do
	o="$out/$(basename "$src" .c).o"
	# shellcheck disable=SC2086
	$cc $(pkg-config --cflags $pc) -c "$top/$src" -o "$o"
	objs="$objs $o"
done
for t in warc html archive; do
	# shellcheck disable=SC2086
	$cc $(pkg-config --cflags $pc) -c "$top/tests/fuzz/fuzz_collect_$t.c" -o "$out/fuzz_collect_$t.o"
	# shellcheck disable=SC2086
	clang++ -fsanitize=fuzzer,address,undefined -o "$out/fuzz_collect_$t" "$out/fuzz_collect_$t.o" \
		$objs "$out/json-haswell.o" "$out/json-generic.o" $(pkg-config --libs $pc) -lpthread
	echo "built $out/fuzz_collect_$t"
done

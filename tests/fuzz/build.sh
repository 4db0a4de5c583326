#!/bin/sh
# tests/fuzz/build.sh: builds the libFuzzer targets with clang
# (apt-get install clang libclang-rt-14-dev), the library sources
# instrumented with them.
#
#   tests/fuzz/build.sh OUTDIR
#   OUTDIR/fuzz_docstream -max_total_time=600 CORPUS/
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-fuzz-out}
mkdir -p "$out"
cc="clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined -I$top/lib -DQN_VERSION=\"fuzz\""
deps=$(pkg-config --cflags --libs libarchive libxxhash libzstd zlib simdjson)
for v in haswell generic; do
	flags=""
	[ $v = haswell ] && flags="-mavx2 -mbmi -mbmi2 -mpclmul -mlzcnt"
	clang++ -g -O1 -std=c++17 -fno-exceptions -fsanitize=fuzzer-no-link,address,undefined $flags \
		-I"$top/lib" -DQN_JSON_VARIANT=$v $(pkg-config --cflags simdjson) \
		-c "$top/lib/json.cc" -o "$out/json-$v.o"
done
objs=""
for src in tests/fuzz/fuzz_docstream.c lib/buf.c lib/err.c lib/hash.c lib/utf8.c lib/docstream.c lib/json.c; do
	o="$out/$(basename "$src" .c).o"
	# shellcheck disable=SC2086
	$cc $(pkg-config --cflags libarchive libxxhash libzstd zlib) -c "$top/$src" -o "$o"
	objs="$objs $o"
done
# Linked by clang++: simdjson's C++ needs the C++ sanitizer runtimes.
# shellcheck disable=SC2086
clang++ -fsanitize=fuzzer,address,undefined -o "$out/fuzz_docstream" $objs \
	"$out/json-haswell.o" "$out/json-generic.o" $deps
echo "built $out/fuzz_docstream"

#!/bin/sh
# tests/fuzz/build.sh: builds the libFuzzer targets (tests/fuzz/fuzz_*.c)
# with clang (apt-get install clang libclang-rt-14-dev).  Each target is
# built from the sources it needs, all instrumented
# (-fsanitize=fuzzer-no-link,address,undefined), and linked with
# -fsanitize=fuzzer,address,undefined and its libraries (pkg-config).
#
#   tests/fuzz/build.sh OUTDIR [TARGET...]
#   OUTDIR/fuzz_docstream -max_total_time=600 CORPUS/
#
# TARGET is a name of the table below (docstream, collect_warc, clean, ...);
# with none, every target is built.  tests/fuzz/build.sh -l lists them.
# Objects go to OUTDIR/obj, each compiled once per run (with the flags of
# the first target naming it); CC and CXX name other compilers.  A new
# fuzz_NAME.c needs its line in the table: the sources whose symbols it
# reaches (from the libraries its make-check driver tests/unit/t_fuzz_NAME
# links in the component's local.mk) and their libraries.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

# One line per target: name, sources besides tests/fuzz/fuzz_NAME.c,
# pkg-config modules, extra preprocessor flags, extra libraries.
# lib/json.cc stands for its two builds (haswell and generic; see
# lib/json_impl.h), as in libquern.a.
targets() {
	cat <<'EOF'
docstream|lib/buf.c lib/err.c lib/hash.c lib/utf8.c lib/docstream.c lib/json.c lib/json.cc|libarchive libxxhash libzstd zlib simdjson||
collect_archive|lib/buf.c lib/err.c lib/hash.c lib/utf8.c lib/docstream.c lib/json.c lib/json.cc collectors/content.c collectors/warc.c collectors/html.c collectors/charset.c|libarchive libxxhash libzstd zlib simdjson icu-uc icu-i18n gumbo libxml-2.0 libdeflate||
collect_html|lib/buf.c lib/err.c lib/utf8.c collectors/html.c collectors/charset.c|icu-uc icu-i18n gumbo libxml-2.0 libdeflate||
collect_warc|lib/buf.c lib/err.c collectors/warc.c|zlib libdeflate||
clean|lib/buf.c lib/err.c lib/utf8.c cleaners/config.c cleaners/text.c cleaners/filters.c cleaners/pii.c cleaners/rules.c cleaners/cleaner.c cleaners/langid.cc|icu-uc icu-i18n libpcre2-8 libxxhash|-I@top@/cleaners -I/usr/include/cld2/public -I/usr/include/cld2/internal|-lcld2
dedup|lib/buf.c lib/err.c lib/hash.c dedup/minhash.c dedup/extsort.c dedup/sigfile.c dedup/cluster.c|icu-uc icu-i18n libxxhash|-I@top@/dedup|
ckpt|lib/buf.c lib/err.c lib/hash.c trainer/checkpoint.c|libxxhash||
shard|lib/buf.c lib/err.c datasets/shard.c||-I@top@/datasets|
tok|lib/buf.c lib/err.c lib/hash.c tokenizer/tok.c tokenizer/tokload.c tokenizer/pretok.c tokenizer/tjson.c|libpcre2-8 libxxhash|-I@top@/tokenizer|
EOF
}

usage() {
	echo "usage: tests/fuzz/build.sh OUTDIR [TARGET...]" >&2
	exit 2
}

if [ "${1:-}" = -l ]; then
	targets | cut -d'|' -f1
	exit 0
fi
[ $# -ge 1 ] || usage
case $1 in -*) usage ;; esac
out=$1
shift
if [ $# -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		t=${t%.c}
		targets | cut -d'|' -f1 | grep -qx "$t" ||
			echo "tests/fuzz/build.sh: warning: $f has no line in the table" >&2
	done
	# shellcheck disable=SC2046
	set -- $(targets | cut -d'|' -f1)
fi
for t; do
	targets | cut -d'|' -f1 | grep -qx "$t" ||
		{ echo "tests/fuzz/build.sh: $t: no such target" >&2; exit 2; }
done

CC=${CC:-clang}
CXX=${CXX:-clang++}
san="-fsanitize=fuzzer-no-link,address,undefined"
cflags="-g -O1 $san -I$top/lib"
cxxflags="$cflags -std=c++17 -fno-exceptions"
obj=$out/obj
mkdir -p "$obj"
built=" "

# compile SRC FLAGS...: compiles SRC (relative to the top) once per run
# into $obj, and adds its objects to $objs.
compile() {
	src=$1
	shift
	base=$obj/$(echo "${src%.*}" | tr / _)
	case $src in
	lib/json.cc) set -- haswell generic ;;
	*.cc) set -- "" ;;
	*) set -- - ;;
	esac
	for v; do
		o=$base${v:+-$v}.o
		[ "$v" = - ] && o=$base.o
		objs="$objs $o"
		case $built in *" $o "*) continue ;; esac
		case $v in
		-)
			# shellcheck disable=SC2086
			$CC $cflags $cppflags -c "$top/$src" -o "$o" ;;
		haswell)
			# shellcheck disable=SC2086
			$CXX $cxxflags -mavx2 -mbmi -mbmi2 -mpclmul -mlzcnt \
				-DQN_JSON_VARIANT=haswell $cppflags -c "$top/$src" -o "$o" ;;
		generic)
			# shellcheck disable=SC2086
			$CXX $cxxflags -DQN_JSON_VARIANT=generic $cppflags -c "$top/$src" -o "$o" ;;
		*)
			# shellcheck disable=SC2086
			$CXX $cxxflags $cppflags -c "$top/$src" -o "$o" ;;
		esac
		built="$built$o "
	done
}

for t; do
	line=$(targets | grep "^$t|")
	srcs=$(echo "$line" | cut -d'|' -f2)
	mods=$(echo "$line" | cut -d'|' -f3)
	extra=$(echo "$line" | cut -d'|' -f4 | sed "s|@top@|$top|g")
	libs=$(echo "$line" | cut -d'|' -f5)
	pcflags=""
	pclibs=""
	if [ -n "$mods" ]; then
		# shellcheck disable=SC2086
		pcflags=$(pkg-config --cflags $mods)
		# shellcheck disable=SC2086
		pclibs=$(pkg-config --libs $mods)
	fi
	cppflags="$extra $pcflags"
	objs=""
	link=$CC
	for src in tests/fuzz/fuzz_$t.c $srcs; do
		compile "$src"
		case $src in *.cc) link=$CXX ;; esac
	done
	# C++ objects are linked by clang++ for the C++ sanitizer runtimes.
	# shellcheck disable=SC2086
	$link -fsanitize=fuzzer,address,undefined -o "$out/fuzz_$t" $objs \
		$pclibs $libs -lpthread -lm
	echo "built $out/fuzz_$t"
done

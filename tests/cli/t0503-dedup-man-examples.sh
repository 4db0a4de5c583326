#!/bin/sh
# The EXAMPLES of quern-dedup(1), read out of the page and run as printed
# on a corpus of real copyright files and licences, with their results
# checked.  A page whose examples change fails here until the test does.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
command -v zstd >/dev/null 2>&1 || skip_all "zstd is not installed"
ls /usr/share/doc/*/copyright >/dev/null 2>&1 || skip_all "no /usr/share/doc/*/copyright"

# The command lines ("$ ...") of the EXAMPLES section, mdoc escapes undone.
awk '
	/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
	ex && /^\.Bd -literal/ { lit = 1; next }
	lit && /^\.Ed/ { lit = 0; next }
	lit { print }
' "$SRC/man/quern-dedup.1" | sed -e 's/\\e/\\/g' -e 's/\\-/-/g' | sed -n 's/^\$ //p' > cmds
is "the page has its 9 command lines" 9 "$(wc -l < cmds | tr -d ' ')"

mkdir src
n=0
for f in /usr/share/doc/*/copyright; do
	n=$((n + 1))
	[ $n -le 300 ] || break
	cp "$f" "src/$(basename "$(dirname "$f")")"
done
ok "collect" quern-collect -q -o docs.jsonl.zst src
zstdcat docs.jsonl.zst > all.jsonl
split -n l/2 -d all.jsonl part-
zstd -q --rm part-00 -o part-0.jsonl.zst
zstd -q --rm part-01 -o part-1.jsonl.zst
total=$(zstdcat docs.jsonl.zst | wc -l | tr -d ' ')

i=0
while IFS= read -r cmd; do
	i=$((i + 1))
	ok "example $i: $cmd" sh -c "$cmd"
	case $i in
	1) kept=$(zstdcat dedup.jsonl.zst | wc -l | tr -d ' ')
	   ok "it removed duplicates ($kept of $total kept)" test "$kept" -lt "$total" ;;
	2) ok "verification keeps at least as many" test "$(zstdcat verified.jsonl.zst | wc -l)" -ge "$kept"
	   like "the clusters are listed" '^cluster	[0-9a-f]{32}	[0-9]+$' "$(head -n 1 clusters.tsv)" ;;
	3) ok "--lines removes lines" test "$(zstdcat lines.jsonl.zst | wc -c)" -lt "$(zstdcat dedup.jsonl.zst | wc -c)" ;;
	4) ok "two signature files" test -s part-0.sig -a -s part-1.sig ;;
	5) like "a duplicates list" '^quern-dedup duplicates 1$' "$(head -n 1 dups.tsv)" ;;
	6) ok "the filtered parts are the one-shot output" sh -c \
		'quern-dedup -q -o both.jsonl part-0.jsonl.zst part-1.jsonl.zst &&
		 zstdcat part-0.dedup.jsonl.zst part-1.dedup.jsonl.zst | cmp - both.jsonl' ;;
	7) ok "the index holds one signature file" test -s seen.idx/000000.sig ;;
	8) ok "the second crawl went into the index" test -s seen.idx/000001.sig
	   ok "and lost documents to the first" test "$(zstdcat new.dedup.jsonl.zst | wc -l)" -lt "$(zstdcat part-1.jsonl.zst | wc -l)" ;;
	9) like "the count by method" '^dedup:exact\|[0-9]+' "$(out)" ;;
	esac
done < cmds
is "all 9 examples ran" 9 "$i"
done_testing

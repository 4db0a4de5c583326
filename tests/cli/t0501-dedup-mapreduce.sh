#!/bin/sh
# quern-dedup at scale: sign / cluster / filter give the one-shot output
# byte for byte and the same manifest events; signature files are the
# same for any -j; a tiny --mem spills sorted runs and changes nothing;
# --index deduplicates a second crawl against the first.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
ls /usr/share/doc/*/copyright >/dev/null 2>&1 || skip_all "no /usr/share/doc/*/copyright"

# The copyright files of the installed packages: many share licence texts.
mkdir src
n=0
for f in /usr/share/doc/*/copyright; do
	n=$((n + 1))
	[ $n -le 450 ] || break
	cp "$f" "src/$(basename "$(dirname "$f")")"
done
ok "collect" quern-collect -q -o all.jsonl src
total=$(wc -l < all.jsonl | tr -d ' ')
split -n l/3 -d all.jsonl part-
for p in part-00 part-01 part-02; do mv $p $p.jsonl; done

ok "one-shot" quern-dedup -q -o one.jsonl part-00.jsonl part-01.jsonl part-02.jsonl
kept=$(wc -l < one.jsonl | tr -d ' ')
ok "some duplicates among $total copyright files" test "$kept" -lt "$total"
one_run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")

for p in part-00 part-01 part-02; do
	ok "sign $p" quern-dedup sign -q -o $p.sig $p.jsonl
done
ok "sign -j1 and -j3 give the same signature file" sh -c \
	'quern-dedup sign -q -j1 -o j1.sig part-01.jsonl && quern-dedup sign -q -j3 -o j3.sig part-01.jsonl && cmp j1.sig j3.sig && cmp j1.sig part-01.sig'
ok "cluster" quern-dedup cluster -o dups.tsv part-00.sig part-01.sig part-02.sig
like "cluster says what it found" 'documents, [0-9]+ clusters, [0-9]+ duplicates' "$(err)"
ok "cluster with --mem 64k spills" quern-dedup cluster -q --mem 64k -o dups-small.tsv part-00.sig part-01.sig part-02.sig
ok "and lists the same duplicates" cmp dups.tsv dups-small.tsv
first_run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
for p in part-00 part-01 part-02; do
	ok "filter $p" quern-dedup filter -q -d dups.tsv -o $p.out.jsonl $p.jsonl
done
cat part-00.out.jsonl part-01.out.jsonl part-02.out.jsonl > mr.jsonl
ok "map/reduce output = one-shot output, byte for byte" cmp mr.jsonl one.jsonl
is "the same duplicate events" \
	"$(sql "SELECT doc, rule, value, other FROM doc_events WHERE run = $one_run AND kind = 'duplicate' ORDER BY doc")" \
	"$(sql "SELECT doc, rule, value, other FROM doc_events WHERE run > $first_run AND kind = 'duplicate' ORDER BY doc")"
is "every dup line of the list is an event" "$(grep -c '^dup' dups.tsv)" \
	"$(sql "SELECT count(*) FROM doc_events WHERE run = $one_run AND kind = 'duplicate'")"
ok "filter -j2 gives the same bytes" sh -c 'quern-dedup filter -q -j2 -d dups.tsv -o f2.jsonl part-01.jsonl && cmp f2.jsonl part-01.out.jsonl'
ok "with --lines too" sh -c 'quern-dedup -q --method exact,near,lines --lines 5 -o one-l.jsonl part-00.jsonl part-01.jsonl part-02.jsonl &&
	for p in part-00 part-01 part-02; do quern-dedup sign -q --lines 5 -o $p.l.sig $p.jsonl || exit 1; done &&
	quern-dedup cluster -q --lines 5 -o dups-l.tsv part-00.l.sig part-01.l.sig part-02.l.sig &&
	for p in part-00 part-01 part-02; do quern-dedup filter -q -d dups-l.tsv -o - $p.jsonl || exit 1; done > mr-l.jsonl &&
	cmp mr-l.jsonl one-l.jsonl'
ok "repeated lines were found" test "$(grep -c '^line' dups-l.tsv)" -gt 0

# Wrong inputs for the list.
fails 1 "filter refuses an input the list does not know" quern-dedup filter -q -d dups.tsv -o x.jsonl all.jsonl
like "and says so" 'not an input of the duplicates list' "$(err)"
fails 1 "cluster refuses signature files of other parameters" sh -c \
	'quern-dedup sign -q --bands 20 --rows 5 -o other.sig part-00.jsonl && quern-dedup cluster -q -o d.tsv part-01.sig other.sig'
like "and says so" 'signed with other parameters' "$(err)"

# Incremental: the second crawl repeats part of the first.
cat part-00.jsonl part-01.jsonl > crawl1.jsonl
cat part-01.jsonl part-02.jsonl > crawl2.jsonl
ok "first crawl with --index" quern-dedup -q --index idx -o c1.jsonl crawl1.jsonl
ok "the index holds its signatures" test -s idx/000000.sig
ok "second crawl against the index" quern-dedup -q --index idx -o c2.jsonl crawl2.jsonl
ok "the index grew" test -s idx/000001.sig
is "nothing of the first crawl's output comes out again" "" \
	"$(jq -r .id c2.jsonl | grep -x -F -f /dev/stdin c1.jsonl 2>/dev/null; jq -r .id c1.jsonl > ids1; jq -r .id c2.jsonl | grep -x -F -f ids1)"
# A cluster the one-shot command joins through a later document may be
# two clusters for the first crawl, which cannot take back what it
# published: the incremental outputs hold everything the one-shot keeps.
cat c1.jsonl c2.jsonl | jq -r .id | sort > inc-ids
is "together they keep everything the one-shot command keeps" "" \
	"$(jq -r .id one.jsonl | sort | comm -23 - inc-ids)"
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
ok "removed documents point at survivors of the first crawl" sh -c \
	"sqlite3 -batch -noheader '$QUERN_MANIFEST' \"SELECT DISTINCT other FROM doc_events WHERE run = $run AND kind = 'duplicate'\" | grep -x -F -f ids1 >/dev/null"
done_testing

#!/bin/sh
# quern-dedup on bad input: bad lines reported with file:line, counted and
# skipped the same way by every step; --max-errors; damaged signature
# files and duplicates lists refused; usage errors; nothing published by
# a failed run, and the run marked failed.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

L=/usr/share/common-licenses
[ -r $L/GPL-3 ] || skip_all "no licence texts in $L"
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"

jq -Rs '{id: "00000000000000000000000000000001", text: .}' $L/GPL-3 | tr -d '\n' > good.jsonl
echo >> good.jsonl
{
	cat good.jsonl
	echo '{"id": "x", "text": "unterminated'
	printf '{"id":"00000000000000000000000000000002","text":"bad \377 utf8"}\n'
	sed 's/0001"/0003"/' good.jsonl
	echo '[1, 2]'
} > mixed.jsonl

ok "bad lines are skipped" quern-dedup -o out.jsonl mixed.jsonl
is "one survivor" 1 "$(wc -l < out.jsonl | tr -d ' ')"
like "each bad line named with file and line" 'mixed\.jsonl:2: ' "$(err)"
like "the fifth line too" 'mixed\.jsonl:5: ' "$(err)"
like "the summary counts them" '3 errors' "$(err)"
is "each reported once" 3 "$(err | grep -c 'mixed\.jsonl:[0-9]*:')"
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
is "errors counter" 3 "$(sql "SELECT json_extract(counters, '\$.errors') FROM runs WHERE id = $run")"
is "the copy is a duplicate" "00000000000000000000000000000003|dedup:exact" \
	"$(sql "SELECT doc, rule FROM doc_events WHERE run = $run")"

ok "sign skips the same lines" quern-dedup sign -q -o m.sig mixed.jsonl
ok "cluster" quern-dedup cluster -q -o m.tsv m.sig
ok "filter skips them too" quern-dedup filter -q -d m.tsv -o mf.jsonl mixed.jsonl
ok "and gives the same output" cmp mf.jsonl out.jsonl

echo keep > published.jsonl
fails 1 "--max-errors 2 fails the run" quern-dedup -q --max-errors 2 -o published.jsonl mixed.jsonl
like "and says why" 'more than 2 input errors' "$(err)"
is "the earlier output is left as it was" keep "$(cat published.jsonl)"
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
is "the run is marked failed" failed "$(sql "SELECT status FROM runs WHERE id = $run")"

fails 1 "a missing input" quern-dedup -q -o x.jsonl nonexistent.jsonl
like "is named" 'nonexistent\.jsonl' "$(err)"
ok "no output for a failed run" test ! -e x.jsonl

# Damaged signature files.
ok "sign" quern-dedup sign -q -o g.sig good.jsonl
size=$(wc -c < g.sig | tr -d ' ')
head -c $((size - 5)) g.sig > trunc.sig
fails 1 "a truncated signature file" quern-dedup cluster -q -o d.tsv trunc.sig
like "is refused" 'trunc\.sig: offset [0-9]+: not a valid signature file' "$(err)"
ok "no list written" test ! -e d.tsv
cp g.sig flip.sig
printf 'Z' | dd of=flip.sig bs=1 seek=300 conv=notrunc 2>/dev/null
fails 1 "a changed byte" quern-dedup cluster -q -o d.tsv flip.sig
like "fails the checksum" 'checksum does not match|not a valid signature file' "$(err)"
echo "not a signature" > text.sig
fails 1 "a text file" quern-dedup cluster -q -o d.tsv text.sig
like "has a bad magic" 'bad magic' "$(err)"

# Damaged duplicates lists.
ok "cluster" quern-dedup cluster -q -o m.tsv m.sig
grep -v '^end' m.tsv > noend.tsv
fails 1 "a list without its end line" quern-dedup filter -q -d noend.tsv -o f.jsonl mixed.jsonl
like "is refused with its line" 'noend\.tsv:[0-9]+: no end line' "$(err)"
sed 's/^dup\t1\t/dup\t7\t/' m.tsv > badord.tsv
fails 1 "a list with an ordinal past the part" quern-dedup filter -q -d badord.tsv -o f.jsonl mixed.jsonl
like "is refused" 'badord\.tsv:[0-9]+: bad dup line' "$(err)"
sed 's/^dup\t1\t0000*3\t/dup\t1\t00000000000000000000000000000009\t/' m.tsv > badid.tsv
fails 1 "a list whose ids do not match the input" quern-dedup filter -q -d badid.tsv -o f.jsonl mixed.jsonl
like "names the document" "not the input that was signed" "$(err)"

# Usage errors.
fails 2 "no output" quern-dedup good.jsonl
fails 2 "no input" quern-dedup -o x.jsonl
fails 2 "--bands 0" quern-dedup --bands 0 -o x.jsonl good.jsonl
fails 2 "bands x rows over 1024" quern-dedup --bands 100 --rows 11 -o x.jsonl good.jsonl
fails 2 "--keep bad" quern-dedup --keep biggest -o x.jsonl good.jsonl
fails 2 "--verify bad" quern-dedup --verify maybe -o x.jsonl good.jsonl
fails 2 "--threshold 1.5" quern-dedup --threshold 1.5 -o x.jsonl good.jsonl
fails 2 "--method bad" quern-dedup --method fuzzy -o x.jsonl good.jsonl
fails 2 "--shingle bad" quern-dedup --shingle line:3 -o x.jsonl good.jsonl
fails 2 "--mem too small" quern-dedup --mem 1k -o x.jsonl good.jsonl
fails 2 "sign takes one input" quern-dedup sign -o x.sig good.jsonl mixed.jsonl
fails 2 "filter needs -d" quern-dedup filter -o x.jsonl good.jsonl
fails 2 "unknown option" quern-dedup --nope -o x.jsonl good.jsonl
like "usage errors point at --help" "Try 'quern-dedup --help'" "$(err)"
done_testing

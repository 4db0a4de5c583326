#!/bin/sh
# quern-dedup on real licence texts: exact duplicates after normalization,
# near duplicates made by editing words, unrelated texts kept; the
# manifest's events; the same bytes for any -j and on rerun; --keep,
# --method, --verify, --clusters, --lines, and CJK text.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
L=/usr/share/common-licenses
[ -r $L/GPL-3 ] && [ -r $L/Apache-2.0 ] && [ -r $L/Artistic ] && [ -r $L/BSD ] ||
	skip_all "no licence texts in $L"

# d/a: GPL-3; b: the same bytes; c: the same after normalization (case,
# spacing); d: every 100th word replaced (J about 0.9); e-g: other licences.
mkdir d
cp $L/GPL-3 d/a.txt
cp $L/GPL-3 d/b.txt
tr 'a-z' 'A-Z' < $L/GPL-3 | sed 's/ /   /g' > d/c.txt
awk '{ for (i = 1; i <= NF; i++) { if (++n % 100 == 0) $i = "EDITED" n } print }' $L/GPL-3 > d/d.txt
cp $L/Apache-2.0 d/e.txt
cp $L/Artistic d/f.txt
cp $L/BSD d/g.txt
ok "collect the fixture" quern-collect -q -o docs.jsonl d
id() { jq -r "select(.source | endswith(\"/$1.txt\")) | .id" docs.jsonl; }

ok "--help" quern-dedup --help
like "help shows the usage" '^usage: quern-dedup' "$(out)"
ok "--version" quern-dedup --version

ok "dedup" quern-dedup -o out.jsonl docs.jsonl
like "summary on stderr" 'kept 4, removed 3 \(2 exact, 1 near\)' "$(err)"
is "the survivors, in input order" "$(id a) $(id e) $(id f) $(id g)" "$(jq -r .id out.jsonl | tr '\n' ' ' | sed 's/ $//')"
grep -F -x -f out.jsonl docs.jsonl > same.jsonl
is "survivors are the input lines, byte for byte" 4 "$(wc -l < same.jsonl | tr -d ' ')"

run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
is "the run is ok" ok "$(sql "SELECT status FROM runs WHERE id = $run")"
is "b is an exact duplicate of a" "duplicate|dedup:exact|1.000|$(id a)" \
	"$(sql "SELECT kind, rule, value, other FROM doc_events WHERE doc = '$(id b)' AND run = $run")"
is "c too, after normalization" "duplicate|dedup:exact|1.000|$(id a)" \
	"$(sql "SELECT kind, rule, value, other FROM doc_events WHERE doc = '$(id c)' AND run = $run")"
v=$(sql "SELECT value FROM doc_events WHERE doc = '$(id d)' AND run = $run AND rule = 'dedup:minhash' AND other = '$(id a)'")
like "d is a near duplicate of a, with its estimated similarity" '^0\.[89][0-9]{2}$' "$v"
is "no event for the survivors" 0 \
	"$(sql "SELECT count(*) FROM doc_events WHERE run = $run AND doc IN ('$(id a)', '$(id e)', '$(id f)', '$(id g)')")"
is "counters" "7|4|2|1" "$(sql "SELECT json_extract(counters, '\$.docs'), json_extract(counters, '\$.kept'),
	json_extract(counters, '\$.removed_exact'), json_extract(counters, '\$.removed_near') FROM runs WHERE id = $run")"
is "the configuration holds the defaults" "14|8|word|5|none|first" \
	"$(sql "SELECT json_extract(config, '\$.bands'), json_extract(config, '\$.rows'), json_extract(config, '\$.shingle'),
	json_extract(config, '\$.ngram'), json_extract(config, '\$.verify'), json_extract(config, '\$.keep') FROM runs WHERE id = $run")"
ok "why shows the duplicate" quern-manifest why "$(id d)"
like "with its survivor" "dedup:minhash.*$(id a)" "$(out)"

# Determinism.
ok "-j1" quern-dedup -q -j1 -o j1.jsonl.zst docs.jsonl
ok "-j3" quern-dedup -q -j3 -o j3.jsonl.zst docs.jsonl
ok "the same bytes for -j1 and -j3" cmp j1.jsonl.zst j3.jsonl.zst
ok "rerun" quern-dedup -q -j2 -o j1b.jsonl.zst docs.jsonl
ok "the same bytes on rerun" cmp j1.jsonl.zst j1b.jsonl.zst

# Methods and verification.
ok "--method exact" quern-dedup -q --method exact -o ex.jsonl docs.jsonl
is "exact only keeps the edited copy" "$(id a) $(id d) $(id e) $(id f) $(id g)" "$(jq -r .id ex.jsonl | tr '\n' ' ' | sed 's/ $//')"
ok "--method near" quern-dedup -q --method near -o near.jsonl docs.jsonl
is "near alone also finds the exact copies (similarity 1)" 4 "$(wc -l < near.jsonl | tr -d ' ')"
ok "--verify sig --threshold 0.95" quern-dedup -q --verify sig --threshold 0.95 -o v.jsonl docs.jsonl
is "the edited copy is split off as a false positive at 0.95" 5 "$(wc -l < v.jsonl | tr -d ' ')"
ok "--verify exact --clusters" quern-dedup -q --verify exact --threshold 0.8 --clusters cl.tsv -o ve.jsonl docs.jsonl
is "at 0.8 it is a duplicate again" 4 "$(wc -l < ve.jsonl | tr -d ' ')"
like "the clusters file names the survivor" "^cluster	$(id a)	4\$" "$(cat cl.tsv)"
like "and each member with its exact similarity" "^	$(id d)	dedup:minhash	$(id a)	0\\.[89]" "$(cat cl.tsv)"
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
vx=$(sql "SELECT value FROM doc_events WHERE doc = '$(id d)' AND run = $run")
ok "the exact Jaccard differs from the estimate by less than 0.1" \
	awk -v a="$v" -v b="$vx" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.1) }'

# --keep.
ok "--keep longest" quern-dedup -q --keep longest -o long.jsonl docs.jsonl
is "the longest copy (upper case, spaces tripled) survives" "$(id c)" \
	"$(jq -r .id long.jsonl | grep -x -e "$(id a)" -e "$(id b)" -e "$(id c)" -e "$(id d)")"
jq -c --argjson n 0 '. + {meta: {score: (if (.source | endswith("/b.txt")) then 9 else 1 end)}}' docs.jsonl > meta.jsonl
ok "--keep meta:score" quern-dedup -q --keep meta:score -o meta-out.jsonl meta.jsonl
is "the copy with the highest score survives" "$(id b)" \
	"$(jq -r .id meta-out.jsonl | grep -x -e "$(id a)" -e "$(id b)" -e "$(id c)" -e "$(id d)")"
is "other members are carried through" 4 "$(jq -r .meta.score meta-out.jsonl | wc -l | tr -d ' ')"

# Repeated lines: a header line in 6 documents, removed from all; one
# document is left with too little text and is dropped.
mkdir ln
for i in 1 2 3 4 5; do
	{ echo "Copyright (C) Example Corporation. All rights reserved."; sed -n "$((i * 40)),$((i * 40 + 20))p" $L/GPL-3; } > ln/$i.txt
done
printf 'COPYRIGHT (C)   Example Corporation. All rights reserved.\nshort\n' > ln/6.txt
ok "collect" quern-collect -q -o ln.jsonl ln
ok "--lines 3" quern-dedup --method lines --lines 3 -o ln-out.jsonl ln.jsonl
is "five documents left" 5 "$(wc -l < ln-out.jsonl | tr -d ' ')"
is "the header is gone from all of them" 0 "$(jq -r .text ln-out.jsonl | grep -c 'Example Corporation')"
like "summary counts the lines" '6 repeated lines removed from 6 documents, 1 dropped as too short' "$(err)"
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-dedup'")
is "modify and drop events" "drop|1
modify|5" "$(sql "SELECT kind, count(*) FROM doc_events WHERE run = $run GROUP BY kind")"
is "the modify value" "1 lines removed" "$(sql "SELECT DISTINCT value FROM doc_events WHERE run = $run AND kind = 'modify'")"

# CJK: ICU segments Japanese without spaces; one sentence added to 30.
jp="吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
long=$(for i in $(seq 1 30); do printf '第%s章。%s' $i "$jp"; done)
{
	printf '{"id":"%s","text":"%s"}\n' 00000000000000000000000000000001 "$long"
	printf '{"id":"%s","text":"%s吾輩はここで始めて人間というものを見た。"}\n' 00000000000000000000000000000002 "$long"
	printf '{"id":"%s","text":"%s"}\n' 00000000000000000000000000000003 "Caf$(printf '\303\251') au lait, s'il vous pla$(printf '\303\256')t."
	printf '{"id":"%s","text":"%s"}\n' 00000000000000000000000000000004 "CAFE$(printf '\314\201') AU LAIT, S'IL VOUS PLA$(printf '\303\216')T."
} > cjk.jsonl
ok "CJK and NFC" quern-dedup -q --clusters cjk.tsv -o cjk-out.jsonl cjk.jsonl
is "the Japanese copy and the decomposed French are duplicates" "00000000000000000000000000000001 00000000000000000000000000000003" \
	"$(jq -r .id cjk-out.jsonl | tr '\n' ' ' | sed 's/ $//')"
like "the decomposed French is an exact duplicate" "00000000000000000000000000000004	dedup:exact" "$(cat cjk.tsv)"
ok "char shingles" quern-dedup -q --shingle char:5 -o ch.jsonl cjk.jsonl
is "find the same" 2 "$(wc -l < ch.jsonl | tr -d ' ')"

# stdin, and an empty input.
ok "stdin" sh -c 'quern-dedup -q -o - - < docs.jsonl > stdin-out.jsonl'
ok "stdin gives the same output" cmp stdin-out.jsonl out.jsonl
: > empty.jsonl
ok "empty input" quern-dedup -q -o empty-out.jsonl empty.jsonl
is "empty output" 0 "$(wc -c < empty-out.jsonl | tr -d ' ')"
done_testing

#!/bin/sh
# quern-shard on real documents (fortunes, bash's documentation) and a
# few made here (non-ASCII text, a document holding the end-of-text
# string itself, a one-byte one): decoding the shards of each split in
# order gives back "<|endoftext|>" + text for every document, exactly;
# headers and sizes as quern-shard(5) says; the uint32 variant for a
# vocabulary past 16 bits; the same bytes for -j1 and -j2 and for the
# inputs in another order; documents cut across shards or not
# (--no-split); the manifest's shard rows and `quern-manifest why`.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

GPT2=${QN_PEERS:-}/tiktoken/encoders/gpt2.json
CL100K=${QN_PEERS:-}/tiktoken/encoders/cl100k_base.json
[ -f "$GPT2" ] || skip_all "npm tiktoken peer not installed ($GPT2)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed (the manifest checks use it)"
[ -d /usr/share/games/fortunes ] || skip_all "fortunes not installed"

mkdir made
printf 'caf\303\251 \342\202\254 \360\237\230\200 \344\270\255\346\226\207\n' > made/unicode.txt
printf 'before <|endoftext|> after, a forged boundary\n' > made/forged.txt
printf 'x' > made/one.txt
i=0; while [ $i -lt 300 ]; do printf 'line %d of a long document\n' $i; i=$((i + 1)); done > made/long.txt
ok "collect fortunes, bash docs and made documents" \
	quern-collect -q -o docs.jsonl /usr/share/games/fortunes /usr/share/doc/bash made
ndocs=$(wc -l < docs.jsonl | tr -d ' ')
ok "more than 20 documents ($ndocs)" test "$ndocs" -gt 20

# check_split DIR SPLIT: the split's shards decoded in order equal
# "<|endoftext|>" + text of its documents in index order.
check_split() {
	: > "$T/dec.$2"; : > "$T/list.$2"
	for f in "$1"/"$2"_*.bin; do
		[ -e "$f" ] || continue
		quern-shard inspect -t "$GPT2" --all "$f" >> "$T/dec.$2" || return 1
		quern-shard inspect --docs "$f" >> "$T/list.$2" || return 1
	done
	python3 - docs.jsonl "$T/list.$2" "$T/dec.$2" <<'EOF'
import json, sys
texts = {}
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    texts[d["id"]] = d["text"]
order = [l.split()[1] for l in open(sys.argv[2]) if l.startswith("doc ") and "continued" not in l]
want = "".join("<|endoftext|>" + texts[i] for i in order).encode()
got = open(sys.argv[3], "rb").read()
if want != got:
    n = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]), min(len(want), len(got)))
    print("# differ at byte %d of %d/%d" % (n, len(want), len(got)))
    sys.exit(1)
EOF
}

ok "shard with gpt2, small shards, a fifth for validation" \
	quern-shard -q -j2 -t "$GPT2" -o s2 --shard-tokens 20k --val-fraction 0.2 --seed 7 docs.jsonl
ok "verify finds nothing wrong" quern-shard verify s2
like "verify counts every document" "train [0-9]+ documents" "$(out)"
ok "train split decodes to <|endoftext|> + each document's text" check_split s2 train
ok "val split decodes the same way" check_split s2 val
ntrain=$(grep -c '^doc .*' "$T/list.train" | tr -d ' ')
ncont=$(grep -c 'continued' "$T/list.train" | tr -d ' ')
nwhole=$(grep '^doc ' "$T/list.train" "$T/list.val" | grep -vc continued | tr -d ' ')
is "every document is in exactly one split" "$ndocs" "$nwhole"
ok "some documents are cut across shards ($ncont)" test "$ncont" -gt 0
ok "the made documents are there" grep -q "forged boundary" "$T/dec.train" "$T/dec.val"

# Header and size.
f=s2/train_000000.bin
set -- $(od -A n -t d4 -N 16 "$f")
is "header[0] magic 20240520" 20240520 "$1"
is "header[1] version 1" 1 "$2"
is "header[2] token count 20000" 20000 "$3"
is "file size: 1024 + 2 x 20000" 41024 "$(wc -c < "$f" | tr -d ' ')"
ok "inspect prints the header" quern-shard inspect "$f"
like "with vocabulary and end-of-text" "vocab_size 50257" "$(out)"
like "and the end-of-text id" "eot 50256" "$(out)"
last=$(ls s2/train_*.bin | tail -n 1)
n=$(quern-shard inspect "$last" | sed -n 's/^tokens //p')
is "the last shard's size matches its count" $((1024 + 2 * n)) "$(wc -c < "$last" | tr -d ' ')"
ok "the first token of a shard is the end-of-text" sh -c "quern-shard inspect --count 1 $f | grep -qx 50256"

# One document back by id.
id=$(awk '/^doc / && !/continued/ && !/more/ {print $2; exit}' "$T/list.val")
ok "inspect --doc decodes one document" sh -c "quern-shard inspect -t '$GPT2' --doc $id s2/val_*.bin > one.txt || for g in s2/val_*.bin; do quern-shard inspect -t '$GPT2' --doc $id \$g > one.txt 2>/dev/null && break; done"
python3 -c "
import json,sys
for l in open('docs.jsonl', encoding='utf-8'):
    d = json.loads(l)
    if d['id'] == '$id': sys.stdout.write(d['text'])
" > want.txt
ok "and it is the document's text" cmp one.txt want.txt

# Determinism: -j1, another input order and cut.
head -n 10 docs.jsonl > a.jsonl; tail -n +11 docs.jsonl > b.jsonl
ok "shard again with -j1 from two inputs in reverse order" \
	quern-shard -q -j1 -t "$GPT2" -o s1 --shard-tokens 20k --val-fraction 0.2 --seed 7 b.jsonl a.jsonl
ok "the shards and indexes are byte for byte the same" sh -c '
	for f in s2/*.bin s2/*.qidx; do cmp "$f" "s1/${f#s2/}" || exit 1; done
	[ $(ls s1 | wc -l) = $(ls s2 | wc -l) ]'
ok "shard again keeping only 64 KiB of tokens in memory (the rest spilled)" \
	quern-shard -q -j2 -t "$GPT2" -o sp --memory 64k --shard-tokens 20k --val-fraction 0.2 --seed 7 docs.jsonl
ok "the same bytes" sh -c 'for f in s2/*.bin s2/*.qidx; do cmp "$f" "sp/${f#s2/}" || exit 1; done'
ok "and with everything spilled (--memory 0)" \
	quern-shard -q -j1 -t "$GPT2" -o sp0 --memory 0 --shard-tokens 20k --val-fraction 0.2 --seed 7 docs.jsonl
ok "the same bytes again" sh -c 'for f in s2/*.bin s2/*.qidx; do cmp "$f" "sp0/${f#s2/}" || exit 1; done'
ok "another seed, another order" quern-shard -q -t "$GPT2" -o s3 --shard-tokens 20k --val-fraction 0.2 --seed 8 docs.jsonl
ok "(the shards differ)" sh -c '! cmp -s s2/train_000000.bin s3/train_000000.bin'
ok "but the same documents in each split" sh -c '
	for sp in train val; do
		for d in s2 s3; do cat $d/${sp}_*.bin > /dev/null; for f in $d/${sp}_*.bin; do quern-shard inspect --docs $f; done | awk "/^doc / && !/continued/ {print \$2}" | sort > $d.$sp; done
		cmp s2.$sp s3.$sp || exit 1
	done'

# The same id twice (two versions of a document): ordered by their
# tokens, so the input order still does not matter.
dup=0123456789abcdef0123456789abcdef
printf '{"id":"%s","text":"first version"}\n{"id":"%s","text":"second version"}\n' $dup $dup > dup1.jsonl
printf '{"id":"%s","text":"second version"}\n{"id":"%s","text":"first version"}\n' $dup $dup > dup2.jsonl
ok "shard a duplicated id one way" quern-shard -q -t "$GPT2" -o d1 --val-fraction 0 a.jsonl dup1.jsonl
ok "and the other way" quern-shard -q -t "$GPT2" -o d2 --val-fraction 0 dup2.jsonl a.jsonl
ok "the same shard" cmp d1/train_000000.bin d2/train_000000.bin
ok "and the same index" cmp d1/train_000000.qidx d2/train_000000.qidx

# Split stability: shard a subset plus new documents; every document of
# both runs is in the same split in both.
mkdir more; i=0; while [ $i -lt 40 ]; do printf 'new document %d\n' $i > more/n$i.txt; i=$((i + 1)); done
quern-collect -q -o more.jsonl more
ok "shard a subset of the documents and 40 new ones" \
	quern-shard -q -t "$GPT2" -o sub --shard-tokens 20k --val-fraction 0.2 --seed 7 b.jsonl more.jsonl
splits() {
	for f in "$1"/*.bin; do
		sp=${f##*/}; sp=${sp%%_*}
		quern-shard inspect --docs "$f" | awk -v sp=$sp '/^doc / && !/continued/ {print $2, sp}'
	done | sort
}
splits s2 > full.splits; splits sub > sub.splits
common=$(join full.splits sub.splits | wc -l | tr -d ' ')
moved=$(join full.splits sub.splits | awk '$2 != $3' | wc -l | tr -d ' ')
ok "documents in both runs: $common" test "$common" -gt 10
is "none moved between train and val" 0 "$moved"
ok "the new documents reach both splits" sh -c "join -v 2 full.splits sub.splits | awk '{print \$2}' | sort -u | tr '\n' ' ' | grep -qx 'train val '"

# --no-split: no piece is cut, a long document starts its own shard.
ok "shard with --no-split" quern-shard -q -t "$GPT2" -o ns --shard-tokens 5k --no-split --val-fraction 0.2 docs.jsonl
ok "verify --no-split shards" quern-shard verify -q ns
ok "no piece is continued or cut" sh -c "! for f in ns/*.bin; do quern-shard inspect --docs \$f; done | grep -E '^doc .* (continued|more)'"
ok "no-split train decodes the same way" check_split ns train

# A vocabulary past 16 bits: uint32 tokens.
if [ -f "$CL100K" ]; then
	ok "shard with cl100k_base" quern-shard -q -t "$CL100K" -o s32 --shard-tokens 50k docs.jsonl
	set -- $(od -A n -t d4 -N 24 s32/train_000000.bin)
	is "header[0] magic 20240801" 20240801 "$1"
	is "header[1] version 7" 7 "$2"
	is "header[5] vocabulary 100277" 100277 "$6"
	is "file size: 1024 + 4 x tokens" $((1024 + 4 * $3)) "$(wc -c < s32/train_000000.bin | tr -d ' ')"
	ok "verify uint32 shards" quern-shard verify -q s32
else
	skip "cl100k_base shards" "no cl100k_base.json"
fi

# Manifest: rows per piece, per-input token totals, why.
rows=$(sql "SELECT count(*) FROM shard_docs s JOIN runs r ON r.id = s.run WHERE r.argv LIKE '%-o\",\"s2\"%'")
is "one shard_docs row per index entry" "$(for f in s2/*.bin; do quern-shard inspect --docs $f; done | grep -c '^doc ')" "$rows"
total=$(sql "SELECT sum(n_tokens) FROM shard_docs s JOIN runs r ON r.id = s.run WHERE r.argv LIKE '%-o\",\"s2\"%'")
is "rows cover every token" "$(cat s2/*.bin | wc -c | awk -v n=$(ls s2/*.bin | wc -l) '{print ($1 - 1024 * n) / 2}')" "$total"
ok "why shows the shard and the token range" quern-manifest why "$id"
like "sharded into a val shard with its range" "sharded .*/s2/val_[0-9]+\.bin +tokens [0-9]+\.\.[0-9]+" "$(out)"
is "per-input token counter" "$total" \
	"$(sql "SELECT json_extract(counters, '$.\"tokens:docs.jsonl\"') FROM runs WHERE argv LIKE '%-o\",\"s2\"%'")"
ok "shards and indexes recorded as outputs" test "$(sql "SELECT count(*) FROM files WHERE path LIKE '%/s2/%'")" -eq $(( $(ls s2 | wc -l) ))
done_testing

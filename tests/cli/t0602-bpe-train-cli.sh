#!/bin/sh
# quern-bpe-train: the same files for any -j; the tokenizer.json loads in
# Hugging Face tokenizers (npm) and encodes real multilingual text exactly
# as quern does, for the gpt2 and cl100k_base patterns; the .tiktoken and
# llm.c exports; pruning; the manifest; bad input and usage errors.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"

zcat /usr/share/doc/python3.11/NEWS.gz 2>/dev/null | head -c 600000 > news.txt
[ -s news.txt ] || cat /usr/share/common-licenses/GPL-3 > news.txt
for d in ja ko ru zh_CN de fr uk pl; do
	ls /usr/share/man/$d/man1/*.gz 2>/dev/null | head -3
done | xargs -r zcat 2>/dev/null | iconv -f utf-8 -t utf-8 -c | head -c 300000 > intl.txt
cat news.txt intl.txt > corpus.txt

# determinism over -j, and the exports
for j in 1 2; do
	ok "-j$j trains" quern-bpe-train -q -j$j --text --vocab-size 3000 -o j$j.json \
		--tiktoken j$j.tiktoken --llmc j$j.bin corpus.txt
done
ok "-j1 and -j2: the same tokenizer.json" cmp j1.json j2.json
ok "-j1 and -j2: the same .tiktoken" cmp j1.tiktoken j2.tiktoken
ok "-j1 and -j2: the same llm.c file" cmp j1.bin j2.bin

# round trips through each format
for f in j1.json j1.tiktoken; do
	quern-tokenize -t $f intl.txt > ids.$f && quern-tokenize -t $f -d ids.$f > back.$f
	ok "$f: multilingual text round-trips" cmp intl.txt back.$f
done
is "vocabulary: 3000 ids, the last <|endoftext|>" "2999" \
	"$(printf '<|endoftext|>' | quern-tokenize -t j1.json --special)"

# llm.c's file: magic, version, ids, eot; then length-prefixed tokens
is "llm.c header" "20240328 2 3000 2999" \
	"$(od -An -tu4 -N16 j1.bin | tr -s ' ' | sed 's/^ //; s/ $//')"
ntok=$(wc -l < j1.tiktoken)
sum=$(od -An -v -tu1 -j1024 j1.bin | awk -v n=$((ntok + 1)) '
	BEGIN { i = 0; skip = 0 }
	{ for (k = 1; k <= NF; k++) { if (skip) { skip--; continue } i++; skip = $k } }
	END { print i, skip }')
is "llm.c body: one length-prefixed token per id" "3000 0" "$sum"

# Hugging Face tokenizers loads the file and encodes identically
HF=${QN_PEERS:-/nonexistent}/tokenizers
if [ -d "$HF" ] && command -v node >/dev/null 2>&1; then
	ok "cl100k_base pattern trains" quern-bpe-train -q --text --vocab-size 4000 \
		--pattern cl100k_base --special '<|endoftext|>' --special '<|pad|>' -o cl.json corpus.txt
	head -c 200000 news.txt > a.txt
	cp intl.txt b.txt
	printf 'Hello <|endoftext|>   world\n\n\n  x 12345 \xf0\x9f\x98\x80 caf\xc3\xa9 \t\n' > c.txt
	for t in j1.json cl.json; do
		ok "$t: npm tokenizers loads and encodes" \
			env NODE_PATH="$QN_PEERS" node "$SRC/tokenizer/hf-ids.js" $t a.txt b.txt c.txt
		for f in a.txt b.txt c.txt; do
			quern-tokenize --special -t $t $f > $f.q
			ok "$t $f: ids identical to Hugging Face's" cmp $f.q $f.hf.ids
		done
	done
else
	skip "Hugging Face tokenizers comparison" "npm tokenizers or node missing"
fi

# documents in, bad lines counted and skipped
printf '{"id":"a","text":"hello hello world"}\nnot json\n{"id":"b","text":"world hello"}\n' > docs.jsonl
ok "a stream with a bad line trains" quern-bpe-train --vocab-size 260 -o d.json docs.jsonl
like "  the bad line is reported" "docs.jsonl:2:" "$(err)"
like "  and summed up" "1 bad document skipped" "$(err)"
fails 1 "past --max-errors the run fails" quern-bpe-train -q --max-errors 0 --vocab-size 260 -o e.json docs.jsonl
ok "  and publishes nothing" test ! -e e.json
is "  the run is marked failed" "failed" \
	"$(sql "SELECT status FROM runs WHERE tool='quern-bpe-train' ORDER BY id DESC LIMIT 1")"

# pruning: bounded word counts, stated and recorded
seq 1 200000 | sed 's/^/w/' > many.txt
ok "--max-words prunes" quern-bpe-train --text --max-words 4096 --vocab-size 300 -o p.json many.txt
like "  says so" "pruned [0-9]+ times" "$(err)"
is "  recorded in the manifest" "1" \
	"$(sql "SELECT json_extract(counters,'\$.pruned_words') > 0 FROM runs WHERE tool='quern-bpe-train' ORDER BY id DESC LIMIT 1")"

# the manifest: run, inputs, outputs
is "inputs and outputs recorded" "corpus.txt|input
j1.bin|output
j1.json|output
j1.tiktoken|output" "$(sql "SELECT replace(f.path, '$T/', ''), rf.role FROM run_files rf JOIN files f ON f.id = rf.file
	WHERE rf.run = (SELECT min(id) FROM runs WHERE tool='quern-bpe-train') ORDER BY 1")"
like "configuration recorded" '"vocab_size":3000' \
	"$(sql "SELECT config FROM runs WHERE tool='quern-bpe-train' ORDER BY id LIMIT 1")"

# usage errors and failures
fails 2 "no -o" quern-bpe-train --vocab-size 300 corpus.txt
fails 2 "no --vocab-size" quern-bpe-train -o x.json corpus.txt
fails 2 "--vocab-size below 257" quern-bpe-train --vocab-size 256 -o x.json corpus.txt
fails 2 "a bad pattern" quern-bpe-train --pattern '(' --vocab-size 300 -o x.json corpus.txt
like "  says why" "pattern" "$(err)"
fails 2 "no input" quern-bpe-train --vocab-size 300 -o x.json
fails 1 "a missing input" quern-bpe-train -q --text --vocab-size 300 -o x.json nope.txt
ok "  publishes nothing" test ! -e x.json
done_testing

#!/bin/sh
# quern-tokenize: round trips of real files (text, and binary files that
# are not UTF-8) through all three encodings, --lines, --count, -o,
# several inputs, and every error the page lists.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"

ENC=${QN_PEERS:-/nonexistent}/tiktoken/encoders
[ -r "$ENC/gpt2.json" ] || skip_all "npm tiktoken is not installed in \$QN_PEERS"
cp "$ENC/gpt2.json" "$ENC/cl100k_base.json" "$ENC/o200k_base.json" .

zcat /usr/share/doc/python3.11/NEWS.gz 2>/dev/null | head -c 300000 > news.txt
[ -s news.txt ] || cat /usr/share/common-licenses/GPL-3 > news.txt
for f in /usr/share/man/ja/man1/*.gz /usr/share/man/ru/man1/*.gz; do
	[ -r "$f" ] && zcat "$f"
done 2>/dev/null | head -c 200000 > intl.txt
head -c 100000 /bin/sh > binary.bin

for e in gpt2 cl100k_base o200k_base; do
	for f in news.txt intl.txt binary.bin; do
		quern-tokenize -t $e.json "$f" > "$f.$e.ids" &&
			quern-tokenize -t $e.json -d "$f.$e.ids" > "$f.$e.back"
		ok "$e: $f round-trips" cmp "$f" "$f.$e.back"
	done
done
n=$(wc -l < news.txt.gpt2.ids)
is "--count is the number of ids" "$n" "$(quern-tokenize -t gpt2.json -c news.txt)"
ok "fewer cl100k ids than gpt2 ids on English text" \
	test "$(wc -l < news.txt.cl100k_base.ids)" -lt "$n"

# --lines: one output line per input line, and back
head -200 news.txt > lines.txt
ok "--lines encodes" sh -c 'quern-tokenize -t gpt2.json --lines lines.txt > lines.ids'
is "--lines: a line out per line in" "$(wc -l < lines.txt)" "$(wc -l < lines.ids)"
ok "--lines -d decodes" sh -c 'quern-tokenize -t gpt2.json -d --lines lines.ids > lines.back'
ok "--lines round-trips" cmp lines.txt lines.back
is "--lines --count" "$(sed -n 3p lines.txt | tr -d '\n' | quern-tokenize -t gpt2.json -c)" \
	"$(quern-tokenize -t gpt2.json --lines -c lines.txt | sed -n 3p)"

# --docs: a document stream, a line of ids per document
printf '{"id":"a","text":"Hello"}\n{"id":"b","text":" world"}\nnot json\n{"id":"c","text":""}\n' > docs.jsonl
zstd -q -o docs.jsonl.zst docs.jsonl 2>/dev/null || gzip -c docs.jsonl > docs.jsonl.zst
fails 1 "--docs: a bad line fails the run" quern-tokenize -t gpt2.json --docs docs.jsonl.zst
is "  each document on its own line, the others still encoded" "15496
995
" "$(out)
"
like "  names the bad line" "docs.jsonl.zst:3:" "$(err)"
head -2 docs.jsonl > good.jsonl
is "--docs --count: a count per document" "1
1" "$(quern-tokenize -t gpt2.json --docs -c good.jsonl)"
fails 2 "--docs with --lines is a usage error" quern-tokenize -t gpt2.json --docs --lines good.jsonl

# several inputs: each one text
printf 'Hello' > a.txt
printf ' world' > b.txt
is "each FILE is one text" "15496
995" "$(quern-tokenize -t gpt2.json a.txt b.txt)"
is "standard input as -" "15496
15496" "$(printf Hello | quern-tokenize -t gpt2.json - a.txt)"
is "empty input: no ids" "" "$(printf '' | quern-tokenize -t gpt2.json)"
is "empty input: count 0" "0" "$(printf '' | quern-tokenize -t gpt2.json -c)"

# -o: complete file, nothing else left behind
ok "-o writes the file" quern-tokenize -t gpt2.json -o out.ids news.txt
ok "-o: same ids as standard output" cmp out.ids news.txt.gpt2.ids
is "-o leaves no temporary file" "out.ids" "$(ls out.ids* | tr '\n' ' ' | sed 's/ $//')"

# errors
fails 2 "no -t is a usage error" quern-tokenize news.txt
fails 2 "an unknown option is a usage error" quern-tokenize -t gpt2.json --nope
fails 2 "-d with --count is a usage error" quern-tokenize -t gpt2.json -d -c
fails 1 "a missing tokenizer file" quern-tokenize -t nope.json news.txt
like "  names it" "^quern-tokenize: nope.json: No such file" "$(err)"
head -c 1000 gpt2.json > trunc.json
fails 1 "a truncated tokenizer file" quern-tokenize -t trunc.json news.txt
like "  says where" "^quern-tokenize: trunc.json: byte [0-9]+: invalid JSON" "$(err)"
printf 'not a tokenizer\n' > junk.tiktoken
fails 1 "a rank file that is not one" quern-tokenize -t junk.tiktoken news.txt
like "  names file and line" "^quern-tokenize: junk.tiktoken:1: expected 'BASE64 RANK'" "$(err)"
printf '15496\n995\n99999999\n' > bad.ids
fails 1 "-d: an id out of the vocabulary" quern-tokenize -t gpt2.json -d bad.ids
like "  names file and line" "^quern-tokenize: bad.ids:3: '99999999' is not a token id" "$(err)"
printf '15496 x995\n' > bad2.ids
fails 1 "-d: something that is not a number" quern-tokenize -t gpt2.json -d bad2.ids
fails 1 "a missing input among good ones" quern-tokenize -t gpt2.json a.txt missing.txt b.txt
is "  the other inputs are still encoded" "15496
995" "$(out)"
like "  names the missing one" "^quern-tokenize: missing.txt: No such file" "$(err)"
fails 1 "a write error on standard output" sh -c 'quern-tokenize -t gpt2.json news.txt > /dev/full'
done_testing

#!/bin/sh
# quern-shard on bad input: truncated, corrupted and mislabelled shards,
# indexes and metadata are refused by verify and inspect with a message
# naming the file and what was expected and found; documents without a
# valid id and bad lines are left out, counted and recorded; usage
# errors exit 2; a failed run publishes nothing.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

GPT2=${QN_PEERS:-}/tiktoken/encoders/gpt2.json
[ -f "$GPT2" ] || skip_all "npm tiktoken peer not installed ($GPT2)"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed (the manifest checks use it)"

quern-collect -q -o docs.jsonl /usr/share/doc/bash
ok "shard bash's documentation" quern-shard -q -t "$GPT2" -o good --shard-tokens 30k --val-fraction 0.3 docs.jsonl
ok "verify: good" quern-shard verify -q good

# fresh: a copy of the good directory to break.
fresh() { rm -rf bad; cp -r good bad; }
# poke FILE OFFSET BYTE: writes one byte (octal) at OFFSET.
poke() { printf "\\$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

fresh; truncate -s -1 bad/train_000001.bin
fails 1 "truncated shard: verify fails" quern-shard verify bad
like "names the file, expected and found" \
	"bad/train_000001.bin: size: expected 61024 bytes for 30000 tokens of 2 bytes, found 61023 \(truncated\)" "$(err)"
fails 1 "truncated shard: inspect fails" quern-shard inspect bad/train_000001.bin
like "with the same message" "train_000001.bin: size: expected" "$(err)"

fresh; truncate -s 1000 bad/train_000000.bin
fails 1 "shard shorter than its header" quern-shard verify bad
like "truncated header message" "train_000000.bin: truncated header: expected 1024 bytes, found 1000" "$(err)"

fresh; poke bad/train_000000.bin 0 001
fails 1 "bad magic" quern-shard verify bad
like "magic message" "train_000000.bin: magic: expected 20240520 or 20240801, found" "$(err)"

fresh; poke bad/train_000000.bin 4 007
fails 1 "version 7 with magic 20240520" quern-shard verify bad
like "version message" "version: expected 1 for magic 20240520, found 7" "$(err)"

fresh; poke bad/train_000000.bin 1026 377; poke bad/train_000000.bin 1027 377
fails 1 "a token past the vocabulary" quern-shard verify bad
like "token message" "train_000000.bin: token 1: expected an id below 50257, found 65535" "$(err)"

fresh; poke bad/train_000000.bin 1024 000
fails 1 "a document without its end-of-text token" quern-shard verify bad
like "end-of-text message" "train_000000.bin: document [0-9a-f]{32} at token 0: expected the end-of-text token 50256 first, found 50176" "$(err)"

fresh; truncate -s -5 bad/val_000000.qidx
fails 1 "truncated index" quern-shard verify bad
like "index size message" "val_000000.qidx: size: expected [0-9]+ bytes for [0-9]+ entries, found" "$(err)"

fresh; poke bad/train_000000.qidx 48 001
fails 1 "an index entry off by some tokens" quern-shard verify bad
like "entry message" "train_000000.qidx: entry 0: first token: expected 0, found 1" "$(err)"

fresh; rm bad/train_000001.qidx
fails 1 "a missing index" quern-shard verify bad
like "no index message" "train_000001.bin: no index: expected .*train_000001.qidx" "$(err)"

fresh; rm bad/train_000001.bin bad/train_000001.qidx
fails 1 "a missing shard" quern-shard verify bad
like "no such file" "train_000001.bin: No such file" "$(err)"

fresh; cp bad/train_000000.bin bad/train_000099.bin
fails 1 "a shard not listed in shards.meta" quern-shard verify bad
like "not listed message" "train_000099.bin: not listed in shards.meta" "$(err)"

fresh; sed -i 's/^vocab_size .*/vocab_size 60000/' bad/shards.meta
fails 1 "metadata disagreeing with the shards" quern-shard verify bad
like "tokenizer message" "tokenizer: expected vocabulary 60000" "$(err)"

fresh; sed -i 's/^shard train_000000.bin train \([0-9]*\)/shard train_000000.bin train 1\1/' bad/shards.meta
fails 1 "a token count in the metadata off" quern-shard verify bad
like "count message" "train_000000.bin: expected 1[0-9]+ tokens and [0-9]+ index entries \(shards.meta\)" "$(err)"

fresh; echo 'vocab_size many' >> bad/shards.meta
fails 1 "a bad metadata line" quern-shard verify bad
like "line message" "shards.meta:[0-9]+: vocab_size: expected 1..2147483647, found \"many\"" "$(err)"

fresh; rm bad/shards.meta
fails 1 "no metadata" quern-shard verify bad

fresh; for e in bin qidx; do mv bad/val_000000.$e bad/x.$e; mv bad/train_000001.$e bad/val_000000.$e; mv bad/x.$e bad/train_000001.$e; done
fails 1 "shards swapped between the splits" quern-shard verify bad
like "split message" "expected train shard 1, found val shard 0" "$(err)"

# Bad documents: no id, a bad id, a bad line; the rest are sharded.
{
	printf '{"text":"no id here"}\n'
	printf '{"id":"XYZ","text":"a bad id"}\n'
	printf 'not json\n'
	head -n 3 docs.jsonl
} > mixed.jsonl
ok "bad documents are left out, the run goes on" quern-shard -t "$GPT2" -o mixed mixed.jsonl
like "the bad id is named with its line" "mixed.jsonl:2: id is not 32 lowercase hex digits" "$(err)"
like "the missing id too" "mixed.jsonl:1: no id" "$(err)"
like "the summary counts them" "3 documents, .*2 rejected" "$(err)"
is "the reject event is recorded" "shard:invalid_id" "$(sql "SELECT rule FROM doc_events WHERE doc = 'XYZ'")"
fails 1 "past --max-errors the run fails" quern-shard -q -t "$GPT2" -o failed --max-errors 1 mixed.jsonl
like "and says why" "more than 1 errors" "$(err)"
ok "and publishes nothing" sh -c '[ -z "$(ls -A failed)" ]'
is "its run is marked failed" failed "$(sql "SELECT status FROM runs WHERE argv LIKE '%failed%' ORDER BY id DESC LIMIT 1")"

# Bad lines are met on the reader thread and warned about, counted and
# judged against --max-errors on the main thread, in line order, across
# batches (64 warnings at most travel in one).
{
	i=1
	while [ $i -le 200 ]; do echo "not json $i"; i=$((i + 1)); done
	head -n 3 docs.jsonl
} > many.jsonl
ok "200 bad lines within --max-errors 200" quern-shard -q -t "$GPT2" -o many --max-errors 200 many.jsonl
is "every bad line warned about once, in order" "$(seq 1 200 | sed 's/.*/quern-shard: many.jsonl:&: invalid JSON: not an object/')" "$(err)"
is "the 3 good documents after them are sharded" 3 "$(awk '$1 == "docs" { n += $3 } END { print n }' many/shards.meta)"
fails 1 "past --max-errors 150 the run fails" quern-shard -q -t "$GPT2" -o many150 --max-errors 150 many.jsonl
like "on the 151st bad line" "many.jsonl:151: invalid JSON.*more than 150 errors" "$(err | tr '\n' ' ')"
ok "and publishes nothing" sh -c '[ -z "$(ls -A many150)" ]'

# Several inputs read at once (-j8: two reader threads, -j16: four): the
# same shards, and the same warnings in the order of the inputs.
sed 's/not json/bad line/' many.jsonl > many3.jsonl
n=$(wc -l < docs.jsonl)
head -n $((n / 2)) docs.jsonl > docs1.jsonl
tail -n +$((n / 2 + 1)) docs.jsonl > docs2.jsonl
for j in 1 8 16; do
	ok "four inputs, -j$j" quern-shard -q -t "$GPT2" -o multi$j -j$j many.jsonl docs1.jsonl many3.jsonl docs2.jsonl
	err > multi$j.err
done
is "400 warnings, many.jsonl's then many3.jsonl's" "many.jsonl:1: many.jsonl:200: many3.jsonl:1: many3.jsonl:200:" \
	"$(sed -n '1p;200p;201p;400p' multi1.err | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
ok "-j8: the same warnings in the same order" cmp multi1.err multi8.err
ok "-j16: too" cmp multi1.err multi16.err
ok "-j8: the same shards" diff -r multi1 multi8
ok "-j16: too" diff -r multi1 multi16

# An input that cannot be opened after a good one fails the run.
fails 1 "a missing second input fails the run" quern-shard -q -t "$GPT2" -o missing docs.jsonl nosuch.jsonl
like "and names it" "nosuch.jsonl" "$(err)"
ok "and publishes nothing" sh -c '[ -z "$(ls -A missing)" ]'

# A truncated compressed input fails the run; the earlier shards stay.
gzip -n -c docs.jsonl > docs.jsonl.gz
head -c 2000 docs.jsonl.gz > cut.jsonl.gz
fails 1 "truncated compressed input fails the run" quern-shard -q -t "$GPT2" -o good cut.jsonl.gz
ok "the earlier shards are untouched" quern-shard verify -q good
ok "and no temporary directory is left" sh -c '[ -z "$(ls -A good | grep tmp)" ]'

# SIGTERM while reading: the run stops, publishes nothing, is marked failed.
mkfifo fifo
( head -n 3 docs.jsonl; sleep 3 ) > fifo &
writer=$!
quern-shard -q -t "$GPT2" -o sig fifo 2>/dev/null &
pid=$!
i=0
while [ $i -lt 200 ] && [ "$(sql "SELECT count(*) FROM runs WHERE status = 'running' AND argv LIKE '%\"sig\"%'")" != 1 ]; do
	sleep 0.1; i=$((i + 1))
done
kill -TERM $pid
wait $pid
is "SIGTERM: exit 1" 1 $?
wait $writer
ok "nothing published" sh -c '[ -z "$(ls -A sig)" ]'
is "the run failed with the reason" "failed|interrupted by Terminated" \
	"$(sql "SELECT status, error FROM runs WHERE argv LIKE '%\"sig\"%'")"

# Usage.
fails 2 "no tokenizer" quern-shard -o x docs.jsonl
fails 2 "no output" quern-shard -t "$GPT2" docs.jsonl
fails 2 "no input" quern-shard -t "$GPT2" -o x
fails 2 "bad --val-fraction" quern-shard -t "$GPT2" -o x --val-fraction 2 docs.jsonl
fails 2 "bad --shard-tokens" quern-shard -t "$GPT2" -o x --shard-tokens 1 docs.jsonl
fails 2 "bad --format" quern-shard -t "$GPT2" -o x --format parquet docs.jsonl
fails 2 "inspect without a file" quern-shard inspect
fails 2 "inspect --doc with a bad id" quern-shard inspect --doc nope good/train_000000.bin
fails 1 "inspect --doc of a document not in the shard" quern-shard inspect --doc 00000000000000000000000000000000 good/train_000000.bin
fails 1 "inspect past the end" quern-shard inspect --start 1000000 good/train_000000.bin
fails 1 "a tokenizer that does not load" quern-shard -t docs.jsonl -o x docs.jsonl
ok "--help" quern-shard --help
like "prints the usage" "usage: quern-shard" "$(out)"
done_testing

#!/bin/sh
# quern-collect on JSONL document streams from other tools (kept as they
# are, ids included; a document without an id gets one) and on hostile
# input: compression and zip bombs, member names with ../ and absolute
# paths, names with odd bytes, corrupt and truncated archives, deep
# nesting.  Each is skipped with a reason, counted, recorded; nothing is
# ever written outside the output; nothing hangs.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
counter() { sql "SELECT json_extract(counters, '\$.$1') FROM runs ORDER BY id DESC LIMIT 1"; }

# JSONL in the styles of Dolma, RedPajama and datatrove, plus a bad line.
mkdir j
cat > j/dolma.jsonl <<'JSONL'
{"id":"dolma-0001","text":"A Dolma document.","source":"common-crawl","added":"2024-01-01","metadata":{"lang":"en","score":0.93}}
{"id":"0123456789abcdef0123456789abcdef","text":"Already a quern id.","source":"file:///x","locator":"line=9"}
JSONL
cat > j/redpajama.jsonl <<'JSONL'
{"text":"A RedPajama document without an id.","meta":{"url":"https://example.com/a","language":"en"}}
{"text":"Second one.","meta":{"url":"https://example.com/b"}}
this line is not JSON
{"id":"dt-3","text":"datatrove","media":[],"metadata":{"dump":"CC-MAIN"}}
JSONL
ok "collect JSONL streams" quern-collect -o j.jsonl j
is "one document per good line" 5 "$(wc -l < j.jsonl | tr -d ' ')"
is "documents with an id come out as they went in" "$(head -n 2 j/dolma.jsonl)" "$(head -n 2 j.jsonl)"
is "and the last one too, field order kept" "$(tail -n 1 j/redpajama.jsonl)" "$(tail -n 1 j.jsonl)"
J=$(cd j && pwd -P)
is "a document without an id gets the file as source and its line as locator" \
	"file://$J/redpajama.jsonl|line=1|https://example.com/a" \
	"$(jq -r 'select(.text | startswith("A RedPajama")) | "\(.source)|\(.locator)|\(.meta.url)"' j.jsonl)"
like "and an id" '^[0-9a-f]{32}$' "$(jq -r 'select(.text | startswith("A RedPajama")) | .id' j.jsonl)"
is "the bad line is a bad_record" 1 "$(counter skipped_bad_record)"
like "recorded with its line" "^file://$J/redpajama\\.jsonl line=3: line 3: invalid JSON" \
	"$(sql "SELECT value FROM doc_events WHERE rule = 'collect:bad_record'")"
is "quern ids are in the docs table as they are" 1 \
	"$(sql "SELECT count(*) FROM docs WHERE id = '0123456789abcdef0123456789abcdef'")"
if have zstd; then
	zstd -q j/redpajama.jsonl -o rp.jsonl.zst
	ok "compressed JSONL" quern-collect -q -o - rp.jsonl.zst
	is "is read as a stream of documents" 3 "$(out | wc -l | tr -d ' ')"
	is "with the filter in the new locators" "filter=zstd;line=2" "$(out | jq -r .locator | sed -n 2p)"
fi

# A first line longer than one read is still JSONL.
{ printf '{"id":"long-1","text":"'; head -c 300000 /dev/zero | tr '\0' 'w'; printf '"}\n{"id":"long-2","text":"short"}\n'; } > long.jsonl
ok "JSONL with a 300 kB first line" quern-collect -q -o - long.jsonl
is "is read as documents" "long-1 long-2" "$(out | jq -r .id | tr '\n' ' ' | sed 's/ $//')"

# A compression bomb: 100 MiB of one letter in 100 KiB of gzip.
if have gzip; then
	mkdir b
	head -c 104857600 /dev/zero | tr '\0' 'a' | gzip > b/bomb.txt.gz
	printf 'fine\n' > b/fine.txt
	ok "a gzip bomb does not fail the run" quern-collect -o b.jsonl b
	is "the good file is collected" "fine" "$(jq -r .text b.jsonl)"
	is "the bomb is left out" 1 "$(counter skipped_bomb)"
	like "said why" 'expands to over [0-9]+ bytes from [0-9]+ \(more than 200 times\)' \
		"$(sql "SELECT value FROM doc_events WHERE rule = 'collect:bomb'")"
	ok "with --max-ratio 2000 and --max-doc-bytes 1M" quern-collect -q -o b2.jsonl --max-ratio 2000 --max-doc-bytes 1M b
	is "it is too large instead" 1 "$(counter skipped_too_large)"
fi

# A zip bomb and hostile names, if python3 can write the zip.
if have python3; then
	python3 - <<'PY'
import zipfile
z = zipfile.ZipFile("hostile.zip", "w", zipfile.ZIP_DEFLATED)
z.writestr("big.txt", b"b" * (80 << 20))
z.writestr("../../escape.txt", "dot dot\n")
z.writestr("/etc/absolute.txt", "absolute\n")
z.writestr("semi;colon%and\nnewline.txt", "odd name\n")
z.writestr("caf\u00e9.txt", "utf-8 name\n")
z.close()
PY
	ok "a zip with a bomb and hostile names" quern-collect -q -o h.jsonl hostile.zip
	is "the big member is too large" 1 "$(counter skipped_too_large)"
	is "the others are documents" 4 "$(wc -l < h.jsonl | tr -d ' ')"
	is "names are kept, ; % and control bytes encoded" \
		"member=../../escape.txt member=/etc/absolute.txt member=semi%3Bcolon%25and%0Anewline.txt member=café.txt" \
		"$(jq -r .locator h.jsonl | tr '\n' ' ' | sed 's/ $//')"
	ok "nothing was written outside" test ! -e ../escape.txt -a ! -e ../../escape.txt -a ! -e /etc/absolute.txt
fi

# Corrupt and truncated archives.
if have tar && have gzip; then
	mkdir t
	for i in 1 2 3; do seq 1 3000 | sed "s/^/file $i line /" > "t/f$i.txt"; done
	# The same bytes every run (fixed times and owners, no gzip name or
	# time), and a corruption no inflater can read past: 4 KiB of 'X' from
	# a third of the way in.  (16 bytes sometimes still inflated, and the
	# tar reader stops before the gzip trailer's CRC.)
	tar --mtime=@0 --owner=0 --group=0 --numeric-owner --sort=name -cf - t | gzip -n > whole.tar.gz
	size=$(wc -c < whole.tar.gz | tr -d ' ')
	head -c $((size / 2)) whole.tar.gz > cut.tar.gz
	cp whole.tar.gz bad.tar.gz
	head -c 4096 /dev/zero | tr '\000' X | dd of=bad.tar.gz bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
	ok "truncated and corrupt archives do not fail the run" quern-collect -o tc.jsonl cut.tar.gz bad.tar.gz whole.tar.gz
	is "the whole archive is read" 3 "$(jq -r 'select(.source | endswith("/whole.tar.gz")) | .id' tc.jsonl | wc -l | tr -d ' ')"
	is "both broken ones are counted" 2 "$(( $(counter skipped_truncated) + $(counter skipped_corrupt) ))"
	is "as errors" 2 "$(counter errors)"
	like "named on stderr" 'quern-collect: cut\.tar\.gz: filter=gzip.*: .*' "$(err)"
	fails 1 "past --max-errors the run fails" quern-collect -q -o tc2.jsonl --max-errors 1 cut.tar.gz bad.tar.gz whole.tar.gz
fi

# Deep nesting: gzip inside gzip ten times (libarchive undoes them in
# one go), and tar inside tar ten times (one level each).
if have gzip && have tar; then
	printf 'deep\n' > deep.txt
	for i in 1 2 3 4 5 6 7 8 9 10; do gzip -c deep.txt > deep.tmp && mv deep.tmp deep.txt; done
	tar cf deepgz.tar deep.txt
	ok "ten nested compressions" quern-collect -q -o - deepgz.tar
	is "are undone" "deep" "$(out | jq -r .text)"
	is "every filter is in the locator" "member=deep.txt;filter=gzip,gzip,gzip,gzip,gzip,gzip,gzip,gzip,gzip,gzip" \
		"$(out | jq -r .locator)"
	printf 'deep\n' > l0.txt
	prev=l0.txt
	for i in 1 2 3 4 5 6 7 8 9 10; do tar cf "l$i.tar" "$prev"; prev=l$i.tar; done
	ok "ten nested tars" quern-collect -q -o deep.jsonl l10.tar
	is "stop at --max-depth (4)" "0 1" "$(counter docs) $(counter skipped_depth)"
	ok "with --max-depth 10" quern-collect -q -o deep.jsonl --max-depth 10 l10.tar
	is "read to the bottom" "deep" "$(jq -r .text deep.jsonl)"
fi

# Files that change while they are read: rewritten and truncated in a
# loop beside the run.  Whatever text is read, the run ends, exits 0 and
# writes whole lines of valid JSON.
mkdir ch
seq 1 400000 > ch/big.txt
seq 1 400000 | gzip > ch/big.gz 2>/dev/null || cp ch/big.txt ch/big.gz
( i=0; while [ $i -lt 200 ]; do : > ch/big.txt; seq 1 100000 > ch/big.txt; i=$((i + 1)); done ) &
churn=$!
ok "a file rewritten while read" quern-collect -q -j2 -o ch.jsonl ch ch ch
kill $churn 2>/dev/null; wait $churn 2>/dev/null
ok "writes valid JSON lines" jq -e . ch.jsonl

# Standard input: an archive is opened; a text over --max-doc-bytes is left out.
if have tar; then
	ok "a tar on standard input" sh -c 'tar cf - j | quern-collect -q -o - -'
	like "its members are documents, after the hash of the input" '^xxh3=[0-9a-f]{32};member=j/' \
		"$(out | jq -r '.locator // empty' | grep -m1 'member=')"
fi
ok "a long text on standard input" sh -c "head -c 200000 /dev/zero | tr '\\0' x | quern-collect -q -o - --max-doc-bytes 100k -"
is "is too large" 1 "$(counter skipped_too_large)"

# Past QUERN_COLLECT_SPILL bytes the documents of one input wait in a
# temporary file in TMPDIR: the same output and manifest rows as when
# they all wait in memory, at -j1 and -j2.  A JSONL stream with a bad
# line, and a WARC of resource records made by hand, gzip'd per record.
mkdir sp
awk 'BEGIN { for (i = 1; i <= 300; i++) {
	printf "{\"text\":\"document %d of a stream \\u00e9 %0" (i % 97) "d\"}\n", i, i
	if (i == 150) print "{not json" } }' > sp/docs.jsonl
mkdir rec
awk 'BEGIN { for (i = 1; i <= 200; i++) {
	body = sprintf("record %d of an archive %0" (i % 89) "d\n", i, i)
	f = sprintf("rec/%03d", i)
	printf "WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:%d>\r\n", i > f
	printf "WARC-Target-URI: http://example.com/%d\r\nContent-Type: text/plain\r\n", i > f
	printf "Content-Length: %d\r\n\r\n%s\r\n\r\n", length(body), body > f
	close(f) } }'
cat rec/* > sp/records.warc
if have gzip; then
	for f in rec/*; do gzip -c "$f"; done > sp/records.warc.gz
fi
rows() {
	sqlite3 -batch -noheader "$1" "SELECT id, source, locator, size FROM docs ORDER BY id" \
		"SELECT doc, seq, kind, rule, value, other FROM doc_events ORDER BY doc, seq"
}
for j in 1 2; do
	ok "-j$j: in memory" quern-collect -q -j$j -m mem$j.db -o mem$j.jsonl sp
	ok "-j$j: spilled after every few documents" \
		env QUERN_COLLECT_SPILL=100 quern-collect -q -j$j -m sp$j.db -o sp$j.jsonl sp
	ok "-j$j: the same documents" cmp mem$j.jsonl sp$j.jsonl
	is "-j$j: the same manifest rows" "$(rows mem$j.db)" "$(rows sp$j.db)"
done
is "all of them" 700 "$(wc -l < sp1.jsonl | tr -d ' ')"
is "-j1 and -j2 agree" "$(cat mem1.jsonl)" "$(cat mem2.jsonl)"
ok "small inputs need no temporary file" \
	env TMPDIR="$T/none" quern-collect -q -m none.db -o none.jsonl sp
fails 1 "a temporary file that cannot be made fails the run" \
	env TMPDIR="$T/none" QUERN_COLLECT_SPILL=100 quern-collect -q -m none.db -o none.jsonl sp
like "and says why" "docs\\.jsonl: cannot make a temporary file in $T/none for its documents: No such file or directory" "$(err)"

# So memory stays bounded however many documents one input holds: a
# 200 MB JSONL stream in well under 200 MB (about 70 MB; 250 MB when
# they all waited in memory).
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
	awk 'BEGIN { s = sprintf("%02000d", 0); gsub(/0/, "w", s)
		for (i = 1; i <= 100000; i++) printf "{\"text\":\"%d %s\"}\n", i, s }' > huge.jsonl
	ok "a 200 MB JSONL stream" /usr/bin/time -o rss -f %M quern-collect -q -m huge.db -o - huge.jsonl
	is "all of it" 100000 "$(out | wc -l | tr -d ' ')"
	ok "in less than 150 MB (RSS $(cat rss) kB)" test "$(cat rss)" -lt 153600
	rm -f huge.jsonl "$T/.out"
else
	skip "memory bounded on a large stream" "no GNU time"
fi

# Usage errors for the new options.
fails 2 "bad --max-depth" quern-collect --max-depth x -o x.jsonl j
fails 2 "negative --max-depth" quern-collect --max-depth -1 -o x.jsonl j
fails 2 "zero --max-ratio" quern-collect --max-ratio 0 -o x.jsonl j
fails 2 "bad --max-doc-bytes" quern-collect --max-doc-bytes 1Q -o x.jsonl j

# The man page's example.
cp j/redpajama.jsonl redpajama.jsonl
ok "example: a document stream from another tool" sh -c 'quern-collect -q -o - redpajama.jsonl | jq -r .id'
is "example: its ids, the ones it had kept" "$(printf '%s\n' "$(out | sed -n 1,2p)" dt-3)" "$(out)"
done_testing

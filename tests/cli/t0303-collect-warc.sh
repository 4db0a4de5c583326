#!/bin/sh
# quern-collect on WARC and WET files written by npm's warcio: response,
# resource and conversion records become documents whose source is the
# target URI and whose locator names the WARC file, the record's offset
# and its WARC-Record-ID; HTTP headers give the status and the charset;
# a corrupt or truncated gzip member is skipped with a reason and the
# reader goes on with the next member.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
have node || skip_all "node is not installed"
[ -d "${QN_PEERS:-}/warcio" ] || skip_all "npm's warcio is not installed in QN_PEERS"
mkwarc() { node "$QN_TOP_SRCDIR/bench/collect-mkwarc.mjs" "$@"; }
counter() { sql "SELECT json_extract(counters, '\$.$1') FROM runs ORDER BY id DESC LIMIT 1"; }

py=/usr/share/doc/python3.11/html
if [ -f "$py/library/json.html" ]; then
	page1=$py/library/json.html
	page2=$py/tutorial/introduction.html
else
	printf '<html><head><title>J</title></head><body><nav>menu</nav><h1>json</h1><p>json.dumps serializes</p></body></html>' > p1.html
	printf '<html><body><h1>Intro</h1><p>An informal introduction</p></body></html>' > p2.html
	page1=p1.html page2=p2.html
fi
printf 'caf\351 in latin-1\n' > latin1.txt
printf 'bin\000ary' > bin.dat
cat > spec <<SPEC
{"type":"response","url":"https://docs.python.org/3.11/library/json.html","file":"$page1","contentType":"text/html; charset=utf-8"}
{"type":"response","url":"https://example.com/latin","file":"latin1.txt","contentType":"text/plain; charset=iso-8859-1"}
{"type":"response","url":"https://example.com/missing","text":"not found","status":404}
{"type":"resource","url":"https://example.com/blob","file":"bin.dat","contentType":"application/octet-stream"}
{"type":"conversion","url":"https://docs.python.org/3.11/library/json.html","text":"json — JSON encoder and decoder\nplain text of the page"}
{"type":"response","url":"https://docs.python.org/3.11/tutorial/introduction.html","file":"$page2","contentType":"text/html"}
SPEC
ok "warcio writes a gzip WARC" mkwarc web.warc.gz < spec
ok "and a plain one" mkwarc web.warc < spec
ok "collect both" quern-collect -q -o w.jsonl web.warc.gz web.warc
is "4 documents in each" 8 "$(wc -l < w.jsonl | tr -d ' ')"
W=$(pwd -P)
is "sources are the target URIs" \
	"https://docs.python.org/3.11/library/json.html https://example.com/latin https://docs.python.org/3.11/library/json.html https://docs.python.org/3.11/tutorial/introduction.html" \
	"$(jq -r 'select(.locator | startswith("warc=file://'"$W"'/web.warc.gz;")) | .source' w.jsonl | tr '\n' ' ' | sed 's/ $//')"
ids=$(zcat web.warc.gz | tr -d '\r' | sed -n 's/^WARC-Record-ID: //p' | sed -n '2p')
like "the locator names the file, the member's offset and the record id" \
	"^warc=file://$W/web\\.warc\\.gz;offset=[0-9]+;record=$ids\$" \
	"$(jq -r .locator w.jsonl | head -n 1)"
off=$(jq -r .locator w.jsonl | sed -n '2s/.*offset=\([0-9]*\);.*/\1/p')
is "the offset is where the record's gzip member starts" "WARC/1.1" \
	"$(tail -c +$((off + 1)) web.warc.gz | zcat 2>/dev/null | head -n 1 | tr -d '\r')"
is "the HTTP status is in meta" 200 "$(jq -r '.meta.http_status' w.jsonl | head -n 1)"
is "the record type is in meta" "response response conversion response" \
	"$(jq -r 'select(.locator | contains("web.warc.gz;")) | .meta.warc_type' w.jsonl | tr '\n' ' ' | sed 's/ $//')"
like "HTML is reduced to its text" 'json' "$(jq -r .text w.jsonl | head -n 1)"
is "without the page's navigation" "" "$(jq -r .text w.jsonl | head -n 1 | grep -x 'Navigation')"
is "the HTTP charset is used" "café in latin-1" "$(jq -r 'select(.source == "https://example.com/latin") | .text' w.jsonl | head -n 1)"
is "and recorded" "ISO-8859-1" "$(jq -r 'select(.source == "https://example.com/latin") | .meta.charset' w.jsonl | head -n 1)"
is "a 404 is no document, binary is left out (once per file)" "2" "$(counter skipped_binary)"
like "the reject names the target URI and the record" '^https://example\.com/blob warc=file://.*;record=<urn:uuid:' \
	"$(sql "SELECT value FROM doc_events WHERE rule = 'collect:binary' ORDER BY rowid DESC LIMIT 1")"
is "the plain WARC gives the same texts" \
	"$(jq -r 'select(.locator | contains("web.warc.gz;")) | .text' w.jsonl | md5sum)" \
	"$(jq -r 'select(.locator | contains("web.warc;")) | .text' w.jsonl | md5sum)"
ok "the same documents in another run" quern-collect -q -o w2.jsonl web.warc.gz web.warc
ok "are the same bytes" cmp w.jsonl w2.jsonl

# Corruption: flip bytes inside the second record's gzip member.
off2=$(jq -r .locator w.jsonl | sed -n '2s/.*offset=\([0-9]*\);.*/\1/p')
cp web.warc.gz bad.warc.gz
printf '\377\377\377\377\377\377\377\377' | dd of=bad.warc.gz bs=1 seek=$((off2 + 30)) conv=notrunc 2>/dev/null
ok "a corrupt gzip member does not fail the run" quern-collect -o bad.jsonl bad.warc.gz
is "the other records are read" 3 "$(wc -l < bad.jsonl | tr -d ' ')"
like "the member is reported with its offset" "^quern-collect: bad\\.warc\\.gz: warc=file://.*;offset=$off2: WARC: corrupt gzip member" "$(err)"
is "counted as corrupt" 1 "$(counter skipped_corrupt)"
is "and as an error" 1 "$(counter errors)"
like "summed up" 'skipped: .*1 corrupt.*; 1 error$' "$(err)"
fails 1 "--max-errors 0 makes it a failure" quern-collect -q -o bad0.jsonl --max-errors 0 bad.warc.gz
# Garbage between members and a truncated last member.
head -c "$off2" web.warc.gz > cut.warc.gz
printf 'garbage between members\n' >> cut.warc.gz
tail -c +$((off2 + 1)) web.warc.gz | head -c $(( $(wc -c < web.warc.gz) - off2 - 40 )) >> cut.warc.gz
ok "garbage and truncation" quern-collect -q -o cut.jsonl cut.warc.gz
is "every whole record around the garbage is read" 3 "$(wc -l < cut.jsonl | tr -d ' ')"
is "the garbage and the cut are counted" "1 1" "$(counter skipped_corrupt) $(counter skipped_truncated)"

# Bytes as a crawler kept them: chunked transfer coding and gzip content
# coding (undone), and brotli (not undone: skipped).
if have gzip; then
	printf 'hello chunked gzip world\n' | gzip -c > gz.bin
	n=$(wc -c < gz.bin | tr -d ' ')
	h=$((n / 2))
	{ printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n'
	  printf '%x\r\n' $h; head -c $h gz.bin; printf '\r\n%x;ext=1\r\n' $((n - h)); tail -c +$((h + 1)) gz.bin; printf '\r\n0\r\n\r\n'; } > block1
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br\r\n\r\n\033\003\000' > block2
	for i in 1 2; do
		printf 'WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.com/coded%s\r\nWARC-Record-ID: <urn:uuid:c%s>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n' \
			$i $i "$(wc -c < block$i | tr -d ' ')"
		cat block$i
		printf '\r\n\r\n'
	done > coded.warc
	ok "content and transfer codings" quern-collect -q -o - coded.warc
	is "chunked gzip is undone" "hello chunked gzip world" "$(out | jq -r .text)"
	like "brotli is skipped, saying so" 'Content-Encoding br could not be undone' \
		"$(sql "SELECT value FROM doc_events WHERE value LIKE '%coded2%'")"
fi

# A WARC inside a tar, and a WET (conversion records only) compressed with xz.
if have xz; then
	grep conversion spec | mkwarc wet.warc
	xz -k wet.warc
	tar cf warcs.tar web.warc.gz
	ok "a WARC in a tar and a WET in xz" quern-collect -q -o - warcs.tar wet.warc.xz
	is "all their documents" 5 "$(out | wc -l | tr -d ' ')"
	like "the member is in the locator after the file" "^warc=file://$W/warcs\\.tar;member=web\\.warc\\.gz;offset=" \
		"$(out | jq -r .locator | head -n 1)"
	is "the WET's text" "plain text of the page" "$(out | jq -r .text | tail -n 1)"
fi

# The man page's example.
cp web.warc.gz crawl.warc.gz
ok "example: collect a crawl" quern-collect -o crawl.jsonl.zst crawl.warc.gz
ok "example: list its URLs" sh -c 'zstdcat crawl.jsonl.zst | jq -r .source | sort -u'
is "example: the three pages' URLs" 3 "$(out | wc -l | tr -d ' ')"
done_testing

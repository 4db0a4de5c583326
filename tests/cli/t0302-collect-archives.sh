#!/bin/sh
# quern-collect on archives: tar (under each compressor), zip, ar and
# nested archives built here from real system files; every member comes
# out as its own document with the path to it in the locator, compressed
# files inside archives are decompressed, and the output is the same for
# any -j.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
have tar || skip_all "tar is not installed"
[ -d /usr/share/common-licenses ] || skip_all "no /usr/share/common-licenses"
counter() { sql "SELECT json_extract(counters, '\$.$1') FROM runs ORDER BY id DESC LIMIT 1"; }

# Real text: the common licenses, and bash's compressed documentation.
mkdir lic
for f in Apache-2.0 BSD GPL-2 LGPL-2.1 MPL-2.0; do
	[ -f /usr/share/common-licenses/$f ] && cp /usr/share/common-licenses/$f lic/
done
nlic=$(ls lic | wc -l | tr -d ' ')
[ "$nlic" -gt 0 ] || skip_all "no license texts"
if [ -f /usr/share/doc/bash/README.gz ]; then
	mkdir gzdocs && cp /usr/share/doc/bash/README.gz /usr/share/doc/bash/NEWS.gz gzdocs/
fi

# Members in byte order, so the first is known.
members=$(ls lic | LC_ALL=C sort | sed 's|^|lic/|')
first=$(ls lic | LC_ALL=C sort | head -n 1)
mkdir a
tar cf a/lic.tar $members
n=1
for tool in gzip xz bzip2 zstd; do
	if have $tool; then
		tar cf - $members | $tool -c > a/lic.tar.$tool
		n=$((n + 1))
	fi
done
ok "collect tar files under every compressor" quern-collect -q -o a.jsonl a
is "one document per member per archive" $((n * nlic)) "$(wc -l < a.jsonl | tr -d ' ')"
is "the members' texts are the files'" "$(cat lic/* | wc -c | tr -d ' ')" \
	"$(jq -j 'select(.source | endswith("/lic.tar")) | .text' a.jsonl | wc -c | tr -d ' ')"
is "a member's text is byte for byte its file" "$(cat "lic/$first")x" \
	"$(jq -j "select((.source | endswith(\"/lic.tar\")) and .locator == \"member=lic/$first\") | .text" a.jsonl)x"
is "a plain tar's locator names the member" "member=lic/$first" \
	"$(jq -r 'select(.source | endswith("/lic.tar")) | .locator' a.jsonl | head -n 1)"
if have gzip; then
	is "a compressed tar's locator names the filter, then the member" "filter=gzip;member=lic/$first" \
		"$(jq -r 'select(.source | endswith("/lic.tar.gzip")) | .locator' a.jsonl | head -n 1)"
fi
is "ids are unique across archives" "$(wc -l < a.jsonl | tr -d ' ')" "$(jq -r .id a.jsonl | sort -u | wc -l | tr -d ' ')"
is "one input file per archive in the manifest" "$n" \
	"$(sql "SELECT count(*) FROM run_files WHERE run = (SELECT max(id) FROM runs) AND role = 'input'")"
is "the archive is recorded as stored" "$(wc -c < a/lic.tar | tr -d ' ')" \
	"$(sql "SELECT f.size FROM files f WHERE f.path LIKE '%/a/lic.tar'")"
is "every member document is in the docs table" $((n * nlic)) \
	"$(sql "SELECT count(*) FROM docs WHERE run = (SELECT max(id) FROM runs)")"

# zip, and compressed files inside archives.
if have zip; then
	(cd lic && zip -q ../lic.zip $(ls | LC_ALL=C sort))
	ok "collect a zip" quern-collect -q -o - lic.zip
	is "one document per member" "$nlic" "$(out | wc -l | tr -d ' ')"
	is "zip members by name" "member=$first" "$(out | jq -r .locator | head -n 1)"
fi
if [ -d gzdocs ]; then
	tar cf docs.tar gzdocs/NEWS.gz gzdocs/README.gz
	ok "compressed files inside a tar" quern-collect -q -o - docs.tar
	is "are decompressed" "$(zcat gzdocs/README.gz | head -c 200)" "$(out | jq -j 'select(.locator | endswith("README.gz;filter=gzip")) | .text' | head -c 200)"
	is "the locator goes member, then filter" "member=gzdocs/NEWS.gz;filter=gzip member=gzdocs/README.gz;filter=gzip" \
		"$(out | jq -r .locator | tr '\n' ' ' | sed 's/ $//')"
fi

# ar, as binutils writes it.
if have ar; then
	(cd lic && ar rc ../lic.a $(ls | LC_ALL=C sort | head -n 2)) 2>/dev/null
	ok "collect an ar archive" quern-collect -q -o - lic.a
	is "its members" "$(ls lic | LC_ALL=C sort | head -n 2 | sed 's/^/member=/' | tr '\n' ' ' | sed 's/ $//')" \
		"$(out | jq -r .locator | tr '\n' ' ' | sed 's/ $//')"
fi

# The same name twice in a tar (tar -r appends a new version): two ids.
printf 'version 1\n' > same.txt
tar cf twice.tar same.txt
printf 'version 2\n' > same.txt
tar rf twice.tar same.txt
ok "a name met twice in one archive" quern-collect -q -o - twice.tar
is "both versions" "version 1|member=same.txt version 2|member=same.txt;entry=2" \
	"$(out | jq -r '"\(.text | rtrimstr("\n"))|\(.locator)"' | tr '\n' ' ' | sed 's/ $//')"
is "with different ids" 2 "$(out | jq -r .id | sort -u | wc -l | tr -d ' ')"

# Archives inside archives.
mkdir nest
cp a/lic.tar nest/
[ -f lic.zip ] && cp lic.zip nest/
printf 'beside the archives\n' > nest/note.txt
tar cf - nest | gzip > nest.tar.gz
ok "nested archives" quern-collect -q -o nest.jsonl nest.tar.gz
want=$((nlic + 1))
[ -f lic.zip ] && want=$((want + nlic))
is "every member of every level is a document" "$want" "$(wc -l < nest.jsonl | tr -d ' ')"
is "the locator holds the whole path" "filter=gzip;member=nest/lic.tar;member=lic/$first" \
	"$(jq -r .locator nest.jsonl | grep 'nest/lic.tar;' | head -n 1)"
ok "--max-depth 1" quern-collect -q -o nest1.jsonl --max-depth 1 nest.tar.gz
is "only the outer archive's own text" "beside the archives" "$(jq -r .text nest1.jsonl)"
is "the inner archives are skipped for depth" "$([ -f lic.zip ] && echo 2 || echo 1)" "$(counter skipped_depth)"
like "with the reason in the manifest" 'depth 1 \(--max-depth 1\)' \
	"$(sql "SELECT value FROM doc_events WHERE rule = 'collect:depth' LIMIT 1")"
ok "--max-depth 0 reads no archive" quern-collect -q -o nest0.jsonl --max-depth 0 nest.tar.gz
is "nothing but a depth skip" "0 1" "$(counter docs) $(counter skipped_depth)"

# The same bytes for any -j, archives and system documentation together.
set -- a nest.tar.gz
[ -d /usr/share/doc/bash ] && set -- "$@" /usr/share/doc/bash
ok "-j1" quern-collect -q -j1 -o j1.jsonl.zst "$@"
ok "-j3" quern-collect -q -j3 -o j3.jsonl.zst "$@"
ok "-j1 and -j3 write the same bytes" cmp j1.jsonl.zst j3.jsonl.zst

# The man page's example.
cp nest.tar.gz release.tar.gz
ok "example: collect a release tarball" quern-collect -o src.jsonl.zst --max-depth 2 release.tar.gz
is "example: every member two levels deep" "$want" "$(zstdcat src.jsonl.zst | wc -l | tr -d ' ')"
done_testing

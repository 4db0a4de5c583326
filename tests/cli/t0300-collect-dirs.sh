#!/bin/sh
# quern-collect on good input: directories walked in byte order, globs,
# compressed files, stdin, output parts, the manifest record, the same
# bytes for any -j, and the man page's examples.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"

# A tree whose byte order differs from a naive walk's: "a-b" sorts before
# "a/" ('-' < '/'), "B" before "a", and a name with a space and a UTF-8
# one need percent-encoding.
mkdir -p d/a d/a-b d/sub/deep d/B
printf 'one\n' > d/a/one.txt
printf 'dash\n' > d/a-b/x.txt
printf 'upper\n' > d/B/up.md
printf 'top\n' > 'd/with space.txt'
printf 'caf\303\251\n' > "d/caf$(printf '\303\251').txt"
printf 'deep\n' > d/sub/deep/d.txt
printf 'notes\n' > d/sub/notes.md
printf 'crlf\r\nline "quoted" \\ tab\t\n' > d/sub/esc.txt
D=$(cd d && pwd -P)

ok "--help" quern-collect --help
like "help shows the usage" '^usage: quern-collect' "$(out)"
ok "--version" quern-collect --version
like "version names the program" '^quern-collect \(quern\) [0-9]' "$(out)"

ok "collect a directory" quern-collect -q -o out.jsonl d
is "one document per file" 8 "$(wc -l < out.jsonl | tr -d ' ')"
is "nothing said with -q" "" "$(err)"

# Sorted order: the order of find | LC_ALL=C sort, as file:// URIs.
find "$D" -type f | LC_ALL=C sort |
	jq -R -r '"file://" + (@uri | gsub("%2F"; "/"))' > want-order
jq -r .source out.jsonl > got-order
ok "documents come in the byte order of their paths" cmp want-order got-order
is "a-b sorts before a/, B before a" "file://$D/B/up.md file://$D/a-b/x.txt file://$D/a/one.txt" \
	"$(head -n 3 got-order | tr '\n' ' ' | sed 's/ $//')"
like "a space is percent-encoded" "^file://$D/with%20space\\.txt\$" "$(grep space got-order)"
like "UTF-8 bytes are percent-encoded" "^file://$D/caf%C3%A9\\.txt\$" "$(grep caf got-order)"
is "text is the file's bytes" "$(printf 'crlf\r\nline "quoted" \\ tab\t\n')x" \
	"$(jq -j 'select(.source | endswith("esc.txt")) | .text' out.jsonl)x"
is "plain files have an empty locator" "" "$(jq -r .locator out.jsonl | sort -u)"
is "documents have exactly id, text, source and locator" '["id","locator","source","text"]' \
	"$(jq -c 'keys' out.jsonl | sort -u)"

# Ids: 32 lowercase hex digits, all different, known to quern-manifest.
is "ids are 32 hex digits" 8 "$(jq -r .id out.jsonl | grep -cE '^[0-9a-f]{32}$')"
is "ids are unique" 8 "$(jq -r .id out.jsonl | sort -u | wc -l | tr -d ' ')"
id=$(jq -r 'select(.source | endswith("/notes.md")) | .id' out.jsonl)
ok "quern-manifest why ID" quern-manifest why "$id"
like "why shows the collection and the source" "collected.*file://$D/sub/notes\\.md" "$(out)"
is "the same file gets the same id in another run" "$id" \
	"$(quern-collect -q -o - d/sub/notes.md | jq -r .id)"

# The manifest record.
run=$(sql "SELECT max(id) FROM runs WHERE tool = 'quern-collect' AND config LIKE '%out.jsonl%'")
is "the run is ok" ok "$(sql "SELECT status FROM runs WHERE id = $run")"
is "docs counter" 8 "$(sql "SELECT json_extract(counters, '\$.docs') FROM runs WHERE id = $run")"
is "files counter" 8 "$(sql "SELECT json_extract(counters, '\$.files') FROM runs WHERE id = $run")"
is "bytes counter is the text bytes" "$(jq -j .text out.jsonl | wc -c | tr -d ' ')" \
	"$(sql "SELECT json_extract(counters, '\$.bytes') FROM runs WHERE id = $run")"
is "errors counter" 0 "$(sql "SELECT json_extract(counters, '\$.errors') FROM runs WHERE id = $run")"
is "the configuration holds the defaults" "67108864|1000|0|0" \
	"$(sql "SELECT json_extract(config, '\$.max_file_bytes'), json_extract(config, '\$.max_errors'),
	        json_extract(config, '\$.part_bytes'), json_extract(config, '\$.follow_symlinks') FROM runs WHERE id = $run")"
is "every document is in the docs table" 8 "$(sql "SELECT count(*) FROM docs WHERE run = $run")"
is "doc sizes are text bytes" 6 "$(sql "SELECT size FROM docs WHERE id = '$id'")"
is "every input file is recorded" 8 \
	"$(sql "SELECT count(*) FROM run_files WHERE run = $run AND role = 'input'")"
is "the output is recorded with its hash" "$T/out.jsonl" \
	"$(sql "SELECT f.path FROM run_files r JOIN files f ON f.id = r.file WHERE r.run = $run AND r.role = 'output'")"
ok "the recorded files verify" quern-manifest verify

# Globs.
ok "--include matches base names" quern-collect -q -o inc.jsonl --include '*.md' d
is "only the .md files" "$D/B/up.md $D/sub/notes.md" \
	"$(jq -r .source inc.jsonl | sed 's|^file://||' | tr '\n' ' ' | sed 's/ $//')"
ok "--include matches the path below SOURCE" quern-collect -q -o inc2.jsonl --include 'sub/*.txt' d
is "only sub's .txt files, at any depth" "$D/sub/deep/d.txt $D/sub/esc.txt" \
	"$(jq -r .source inc2.jsonl | sed 's|^file://||' | tr '\n' ' ' | sed 's/ $//')"
ok "--exclude prunes a directory" quern-collect -q -o exc.jsonl --exclude sub d
is "nothing below sub" 0 "$(grep -c '/sub/' exc.jsonl)"
is "the rest is there" 5 "$(wc -l < exc.jsonl | tr -d ' ')"
ok "--exclude wins over --include" quern-collect -q -o both.jsonl --include '*.txt' --exclude 'd.txt' --exclude 'a*' d
is "left: the .txt files not excluded" "$D/caf%C3%A9.txt $D/sub/esc.txt $D/with%20space.txt" \
	"$(jq -r .source both.jsonl | sed 's|^file://||' | tr '\n' ' ' | sed 's/ $//')"
run=$(sql "SELECT max(id) FROM runs")
is "files left out by globs are counted" 5 \
	"$(sql "SELECT json_extract(counters, '\$.excluded') FROM runs WHERE id = $run")"

# Compressed files are decompressed by content, whatever their name.
mkdir z
printf 'plain text\n' > z/p.txt
n=1
for tool in gzip xz bzip2 zstd lz4; do
	if have $tool; then
		printf 'text in %s\n' $tool | $tool -c > z/$tool.data
		n=$((n + 1))
	fi
done
ok "collect compressed files" quern-collect -q -o z.jsonl z
is "one document per file" $n "$(wc -l < z.jsonl | tr -d ' ')"
for tool in gzip xz bzip2 zstd lz4; do
	if have $tool; then
		is "$tool: decompressed" "text in $tool" \
			"$(jq -r "select(.source | endswith(\"/$tool.data\")) | .text" z.jsonl)"
		is "$tool: locator names the filter" "filter=$tool" \
			"$(jq -r "select(.source | endswith(\"/$tool.data\")) | .locator" z.jsonl)"
	else
		skip "$tool: decompressed" "$tool is not installed"
	fi
done
if have gzip && have xz; then
	printf 'twice\n' | gzip | xz > z2.gz.xz
	ok "a file compressed twice" quern-collect -q -o - z2.gz.xz
	is "is decompressed twice" twice "$(out | jq -r .text)"
	is "with both filters, outermost first" "filter=xz,gzip" "$(out | jq -r .locator)"
else
	skip "a file compressed twice" "gzip or xz is not installed"
fi
if have gzip; then
	run=$(sql "SELECT max(id) FROM runs WHERE config LIKE '%z.jsonl%'")
	is "compressed inputs are recorded as stored" \
		"$(wc -c < z/gzip.data | tr -d ' ')" \
		"$(sql "SELECT f.size FROM run_files r JOIN files f ON f.id = r.file
		        WHERE r.run = $run AND f.path = '$(cd z && pwd -P)/gzip.data'")"
fi

# Standard input: one document, decompressed too.
ok "stdin is one document" sh -c 'printf "from stdin\n" | quern-collect -q -o - -'
is "its text" "from stdin" "$(out | jq -r .text)"
is "its source" "stdin:" "$(out | jq -r .source)"
like "its locator holds the hash of the bytes" '^xxh3=[0-9a-f]{32}$' "$(out | jq -r .locator)"
a=$(out | jq -r .id)
ok "other stdin content" sh -c 'printf "other\n" | quern-collect -q -o - -'
test "$a" != "$(out | jq -r .id)"
_result $? "gets another id"
if have gzip; then
	ok "compressed stdin" sh -c 'printf "zipped\n" | gzip | quern-collect -q -o - -'
	is "is decompressed" zipped "$(out | jq -r .text)"
	like "with the filter in the locator" '^xxh3=[0-9a-f]{32};filter=gzip$' "$(out | jq -r .locator)"
fi
ok "files and stdin mixed, in the order given" sh -c 'printf "middle\n" | quern-collect -q -o - d/a - d/B'
is "three documents in order" "one middle upper" "$(out | jq -j .text | tr '\n' ' ' | sed 's/ $//')"

# Output: stdout, compression by name, parts.
ok "-o - writes to stdout" quern-collect -q -o - d
out > stdout.jsonl
ok "stdout holds the same lines as a file" cmp out.jsonl stdout.jsonl
ok "-o NAME.zst compresses with zstd" quern-collect -q -o out.jsonl.zst d
ok "which zstdcat reads back" sh -c 'zstdcat out.jsonl.zst | cmp - out.jsonl'
if have gzip; then
	ok "-o NAME.gz compresses with gzip" quern-collect -q -o out.jsonl.gz d
	ok "which gzip reads back" sh -c 'gzip -dc out.jsonl.gz | cmp - out.jsonl'
fi
ok "--part-bytes splits the output" quern-collect -q -o 'part-%03d.jsonl' --part-bytes 200 d
like "into several parts" '^[3-9]$' "$(ls part-*.jsonl | wc -l | tr -d ' ')"
ok "the parts together are the whole" sh -c 'cat part-*.jsonl | cmp - out.jsonl'
run=$(sql "SELECT max(id) FROM runs")
is "every part is recorded as an output" "$(ls part-*.jsonl | wc -l | tr -d ' ')" \
	"$(sql "SELECT count(*) FROM run_files WHERE run = $run AND role = 'output'")"

# A tree deeper than the directories the walk keeps open (256): a file at
# every level, each found, recorded by its resolved path, in path order.
p=deep
i=0
while [ $i -lt 300 ]; do
	mkdir -p "$p" && printf 'level %d\n' $i > "$p/f.txt"
	p=$p/d
	i=$((i + 1))
done
ok "a tree 300 directories deep" quern-collect -q -j2 -o deep.jsonl deep
is "a document per level" 300 "$(wc -l < deep.jsonl | tr -d ' ')"
is "in path order (d/ before f.txt)" "level 299 level 0" \
	"$(jq -j .text deep.jsonl | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"
run=$(sql "SELECT max(id) FROM runs")
is "every file recorded by its absolute path" 300 \
	"$(sql "SELECT count(*) FROM run_files rf JOIN files f ON f.id = rf.file WHERE rf.run = $run AND rf.role = 'input' AND f.path LIKE '$(cd deep && pwd -P)/%f.txt'")"

# The same bytes for any -j, on real system text too.
set -- d
for s in /usr/share/doc/bash /usr/share/common-licenses; do
	[ -d "$s" ] && set -- "$@" "$s"
done
ok "-j1" quern-collect -q -j1 -o j1.jsonl.zst "$@"
ok "-j2" quern-collect -q -j2 -o j2.jsonl.zst "$@"
ok "-j7" quern-collect -q -j7 -o j7.jsonl.zst "$@"
ok "-j1 and -j2 write the same bytes" cmp j1.jsonl.zst j2.jsonl.zst
ok "-j1 and -j7 write the same bytes" cmp j1.jsonl.zst j7.jsonl.zst
like "system text was collected" '^[0-9]{2,}$' "$(zstdcat j1.jsonl.zst | wc -l | tr -d ' ')"
if [ -d /usr/share/doc/bash ] && have gzip; then
	like "bash's README.gz came out decompressed" 'filter=gzip' \
		"$(zstdcat j1.jsonl.zst | jq -r 'select(.source == "file:///usr/share/doc/bash/README.gz") | .locator')"
fi
ok "the summary is printed without -q" quern-collect -j2 -o j3.jsonl.zst "$@"
like "summary" '^quern-collect: [0-9]+ documents \([0-9.]+ MB\) from [0-9]+ files.*; 0 errors$' "$(err)"

# The man page's examples, as written there.
if [ -d /usr/share/doc ]; then
	ok "example: collect /usr/share/doc" quern-collect -o docs.jsonl.zst /usr/share/doc
	like "example: it says what it did" 'documents' "$(err)"
	ok "example: why of the first document" sh -c \
		'quern-manifest why "$(zstdcat docs.jsonl.zst | head -n 1 | jq -r .id)"'
	like "example: why names the document's source" 'collected +file:///usr/share/doc/' "$(out)"
else
	skip "example: collect /usr/share/doc" "no /usr/share/doc"
fi
mkdir -p src/.git src/docs
printf 'ref: refs/heads/main\n' > src/.git/HEAD
printf 'x\n' > src/.git/notes.txt
printf '# readme\n' > src/README.md
printf 'guide\n' > src/docs/guide.txt
printf 'int main;\n' > src/main.c
ok "example: parts of a source tree" \
	quern-collect -o 'src-%05d.jsonl.zst' --part-bytes 256M \
	--include '*.md' --include '*.txt' --exclude .git src
is "example: one part" src-00000.jsonl.zst "$(ls src-*.jsonl.zst)"
is "example: the .md and .txt files, not .git" "README.md guide.txt" \
	"$(zstdcat src-00000.jsonl.zst | jq -r .source | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')"
if have gzip; then
	printf 'some notes\n' | gzip > notes.txt.gz
	ok "example: a document from stdin" sh -c 'quern-collect -q -o - - < notes.txt.gz | jq -r .id'
	like "example: its id" '^[0-9a-f]{32}$' "$(out)"
else
	skip "example: a document from stdin" "gzip is not installed"
fi
printf 'bin\000ary' > src/docs/blob.txt
ok "collect a tree with a binary file" quern-collect -q -o src.jsonl src
ok "example: list what was left out" \
	sqlite3 quern.db "SELECT rule, value FROM doc_events
    WHERE kind = 'reject'"
like "example: with rule and value" "^collect:binary\\|file://.*/src/docs/blob\\.txt: NUL byte at offset 3\$" "$(out)"

done_testing

#!/bin/sh
# The EXAMPLES of quern(7), quern-manifest(1) and quern-manifest(5), run
# as the pages print them against a manifest built here the way the
# programs write one, with their output checked; then the claims of the
# pages that the examples do not show, and mandoc -Tlint on the three.
#
# The commands are read out of the pages themselves, so a page whose
# example changes, or gains one, fails here until the test follows.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
MAN=$SRC/man

# ---- the examples, read from the pages ----

# The literal displays of a page's EXAMPLES section, one line each,
# prefixed by the display's number and a tab, with the mdoc escapes the
# pages use turned back into the characters typed.
displays() {
	awk '
		/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
		ex && /^\.Bd -literal/ { n++; lit = 1; next }
		lit && /^\.Ed/ { lit = 0; next }
		lit { print n "\t" $0 }
	' "$MAN/$1" |
	sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\e/\\/g'
}

# The command lines ("$ ...") of quern(7) and quern-manifest(1).
for p in quern.7 quern-manifest.1; do
	displays $p | sed -n 's/^[0-9]*	\$ //p' > "$T/.cmds.$p"
	: > "$T/.ran.$p"
done
# Each display of quern-manifest(5) is one query, in q/N.sql.
mkdir "$T/q"
displays quern-manifest.5 | awk -F '\t' -v dir="$T/q" '{ print $2 > (dir "/" $1 ".sql") }'
nq=$(ls "$T/q" | wc -l | tr -d ' ')
: > "$T/.ran.queries"

# ex PAGE COMMAND: COMMAND is one of PAGE's examples, word for word; runs
# it with sh -c in the scratch directory (out and err have its output).
ex() {
	printf '%s\n' "$2" >> "$T/.ran.$1"
	if grep -Fxq -- "$2" "$T/.cmds.$1"; then
		ok "$1: $2" sh -c "$2"
	else
		is "$1 shows: $2" "an example of $1" "not in the page"
	fi
}

# ex_skip PAGE COMMAND REASON: an example that cannot run here.
ex_skip() {
	printf '%s\n' "$2" >> "$T/.ran.$1"
	skip "$1: $2" "$3"
}

# query N DESCRIPTION < WANT: the N-th query of quern-manifest(5) prints WANT
# (sqlite3 -batch, no header, columns separated by |).
query() {
	printf '%s\n' "$1" >> "$T/.ran.queries"
	is "quern-manifest.5 query $1: $2" "$(cat)" \
		"$(sqlite3 -batch -noheader "$QUERN_MANIFEST" < "$T/q/$1.sql" 2>&1)"
}

has() { command -v "$1" >/dev/null 2>&1; }
has sqlite3 || skip_all "no sqlite3, the auditors' tool"

# ---- a manifest as the pipeline writes one ----
#
# Of the programs that record runs, only quern-collect and quern-manifest
# exist, so the rows of the others are written here with sqlite3, as
# lib/manifest.c writes them: a run, its files by content hash, its
# documents, events and shard rows, its counters and final status.
#
# The collection is the one quern-collect makes of raw/ when the corpus
# lives in /srv/corpus, the place the pages show: its documents' sources
# are file:///srv/corpus/... wherever this test runs, so their ids are
# the ids the pages print.  Further down, quern-collect itself collects
# raw/ here and must agree with these rows.  The files are real, and
# their hashes too (quern-manifest hashes them into a scratch manifest),
# so verify and lineage work on them as on any others.

TR=$(pwd -P)
HOST=$(uname -n)
S=file:///srv/corpus/raw
# Document ids: xxh3-128 of source "\n" locator (DESIGN.md).
A=0126a81a45836c1d164d7c95ec7fd622	# raw/notes/intro.txt
H=b51592f666d82dfea0807edf421ff0de	# raw/notes/list.txt
B=44f62058e4f0e54558178e41acd8c0d7	# raw/notes/todo.txt
E=7a59f04cac5b228b9d6d3229caab1dc9	# raw/web/contact.txt.gz
F=17b17e30f8d8ea812751242e5eb852b4	# raw/web/legacy.txt (binary: a NUL byte)
C=7699269b1927c6d730771295fc9b4c84	# raw/web/mill-1.txt.gz
D=339096e9f6fb1851e4f34b5dde555162	# raw/web/mill-2.txt.gz

mkdir -p raw/notes raw/web shards ckpt ids
printf 'A quern is a pair of stones for grinding grain by hand.\n' > raw/notes/intro.txt
printf 'a an the to by\n' > raw/notes/list.txt
printf 'ab cd e fg h\n' > raw/notes/todo.txt
printf 'Write to miller@example.org or mill@example.org for flour.\n' | gzip -n > raw/web/contact.txt.gz
printf 'Caf\000 and mill, 1871.\n' > raw/web/legacy.txt
printf 'Millstones were quarried from the hills above the village.\n' | gzip -n > raw/web/mill-1.txt.gz
printf 'Millstones were quarried from the hills above this village.\n' | gzip -n > raw/web/mill-2.txt.gz
# The stream quern-collect writes of raw/, in the byte order of the paths;
# docs.jsonl.zst is it compressed (plain bytes under that name if zstd is
# missing).
{
	printf '{"id":"%s","text":"A quern is a pair of stones for grinding grain by hand.\\n","source":"%s","locator":""}\n' $A $S/notes/intro.txt
	printf '{"id":"%s","text":"a an the to by\\n","source":"%s","locator":""}\n' $H $S/notes/list.txt
	printf '{"id":"%s","text":"ab cd e fg h\\n","source":"%s","locator":""}\n' $B $S/notes/todo.txt
	printf '{"id":"%s","text":"Write to miller@example.org or mill@example.org for flour.\\n","source":"%s","locator":"filter=gzip"}\n' $E $S/web/contact.txt.gz
	printf '{"id":"%s","text":"Millstones were quarried from the hills above the village.\\n","source":"%s","locator":"filter=gzip"}\n' $C $S/web/mill-1.txt.gz
	printf '{"id":"%s","text":"Millstones were quarried from the hills above this village.\\n","source":"%s","locator":"filter=gzip"}\n' $D $S/web/mill-2.txt.gz
} > "$T/.docs.jsonl"
if has zstd; then
	zstd -q "$T/.docs.jsonl" -o docs.jsonl.zst
else
	cp "$T/.docs.jsonl" docs.jsonl.zst
fi
printf 'clean stream\n' > clean.jsonl.zst
printf 'dedup stream\n' > dedup.jsonl.zst
printf '{"version":"1.0","model":{"type":"BPE"}}\n' > tokenizer.json
printf 'train shard: tokens of A and C\n' > shards/train-00000.bin
printf 'val shard: tokens of E\n' > shards/val-00000.bin
printf 'weights at step 200\n' > ckpt/step-000200.bin
# Each document id is the hash of its source and locator: ids/ID holds them.
for x in "$A notes/intro.txt" "$H notes/list.txt" "$B notes/todo.txt" \
	 "$E web/contact.txt.gz filter=gzip" "$F web/legacy.txt" \
	 "$C web/mill-1.txt.gz filter=gzip" "$D web/mill-2.txt.gz filter=gzip"; do
	set -- $x
	printf '%s\n%s' "$S/$2" "${3:-}" > ids/$1
done
printf 'file:///srv/node1/raw/a.txt\n' > ids/node1
printf 'file:///srv/node2/raw/b.txt\n' > ids/node2
quern-manifest -q -m "$T/.hash.db" tag all raw/notes/* raw/web/* \
	docs.jsonl.zst clean.jsonl.zst dedup.jsonl.zst tokenizer.json \
	shards/train-00000.bin shards/val-00000.bin ckpt/step-000200.bin ids/* ||
	echo "Bail out! cannot hash the fixture files"
hash() { sqlite3 "$T/.hash.db" "SELECT hash FROM files WHERE path = '$TR/$1'"; }

# Creates and migrates the manifest, as every program does on opening it.
quern-manifest -q init || echo "Bail out! quern-manifest cannot create $QUERN_MANIFEST"
# A process that has exited: the pid of the run that was killed.
sh -c 'exit 0' & dead=$!
wait $dead
# Events as the programs write them: rule names in rules, events naming
# their rule by id and numbered per run by seq where the schema has it
# (doc_events is a view over the two), or straight into doc_events where
# that is a table.
if [ "$(sql "SELECT type FROM sqlite_master WHERE name = 'doc_events'")" = table ]; then
	events="INSERT INTO doc_events(run, doc, kind, rule, value, other)
 SELECT run, doc, kind, rule, value, other FROM ev ORDER BY rowid;"
else
	seqcol= seqval=
	if [ "$(sql "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'seq'")" = 1 ]; then
		seqcol=", seq"
		seqval=", (SELECT count(*) FROM ev x WHERE x.run = e.run AND x.rowid < e.rowid)"
	fi
	events="INSERT OR IGNORE INTO rules(kind, name) SELECT kind, rule FROM ev ORDER BY rowid;
INSERT INTO events(run, doc, rule, value, other$seqcol)
 SELECT e.run, e.doc, r.id, e.value, e.other$seqval
 FROM ev e JOIN rules r ON r.kind = e.kind AND r.name = e.rule ORDER BY e.rowid;"
fi
sqlite3 -batch "$QUERN_MANIFEST" <<EOF || echo "Bail out! cannot write the fixture"
ATTACH '$T/.hash.db' AS h;
BEGIN;
INSERT INTO runs(id, uuid, tool, version, argv, config, host, pid, started, ended, status, error, counters) VALUES
 (1, '4f02d8b6b5b0d39883a75b2f995ab437', 'quern-collect', '0.1.0',
  '["quern-collect","-o","docs.jsonl.zst","raw"]',
  '{"output":"docs.jsonl.zst","manifest":"quern.db","threads":8,"quiet":false,"include":[],"exclude":[],"follow_symlinks":false,"max_file_bytes":67108864,"part_bytes":0,"max_errors":1000}',
  '$HOST', 4101, '2026-03-02T09:00:00.000Z', '2026-03-02T09:00:41.250Z', 'ok', NULL,
  '{"files":7,"docs":6,"bytes":262,"raw_bytes":$(cat raw/*/* | wc -c | tr -d ' '),"skipped_empty":0,"skipped_binary":1,"skipped_invalid_utf8":0,"skipped_too_large":0,"skipped_bomb":0,"skipped_depth":0,"skipped_truncated":0,"skipped_corrupt":0,"skipped_bad_record":0,"skipped_symlink":0,"skipped_loop":0,"skipped_special":0,"excluded":0,"errors":0}'),
 (2, '38e861284592c24ae432cc9c818ab155', 'quern-clean', '0.1.0',
  '["quern-clean","-o","clean.jsonl.zst","docs.jsonl.zst"]',
  '{"output":"clean.jsonl.zst","threads":8,"max_errors":1000}', '$HOST', 4188,
  '2026-03-02T09:05:00.000Z', '2026-03-02T09:05:07.500Z', 'failed',
  'clean.jsonl.zst: write: No space left on device',
  '{"docs_in":3,"dropped":1}'),
 (3, '83ca139d842d650bdb521eb8483c48f4', 'quern-clean', '0.1.0',
  '["quern-clean","-o","clean.jsonl.zst","docs.jsonl.zst"]',
  '{"output":"clean.jsonl.zst","threads":8,"max_errors":1000}', '$HOST', 4270,
  '2026-03-02T09:20:00.000Z', '2026-03-02T09:20:09.125Z', 'ok', NULL,
  '{"docs_in":6,"docs_out":4,"dropped":2,"modified":1}'),
 (4, '12b12739fb3ff71fef99739d07785b90', 'quern-dedup', '0.1.0',
  '["quern-dedup","-o","dedup.jsonl.zst","clean.jsonl.zst"]',
  '{"output":"dedup.jsonl.zst","threads":8,"threshold":0.8}', '$HOST', 4302,
  '2026-03-02T09:30:00.000Z', '2026-03-02T09:30:03.000Z', 'ok', NULL,
  '{"docs_in":4,"docs_out":3,"duplicates":1}'),
 (5, '64243899c8217b9919adcc8d4e3575ce', 'quern-shard', '0.1.0',
  '["quern-shard","-t","tokenizer.json","-o","shards","dedup.jsonl.zst"]',
  '{"output":"shards","tokenizer":"tokenizer.json","val_fraction":0.1,"seed":1}', '$HOST', 4355,
  '2026-03-02T09:40:00.000Z', '2026-03-02T09:40:02.750Z', 'ok', NULL,
  '{"docs":3,"tokens":6800}'),
 (6, 'ada083a16dc6e646d7e68cb83d937174', 'quern-dedup', '0.1.0',
  '["quern-dedup","--threshold","0.7","-o","dedup2.jsonl.zst","clean.jsonl.zst"]',
  '{"output":"dedup2.jsonl.zst","threads":8,"threshold":0.7}', '$HOST', $dead,
  '2026-03-02T10:00:00.000Z', NULL, 'running', NULL, '{}');
INSERT INTO files(path, size, hash)
 SELECT path, size, hash FROM h.files
 WHERE path NOT LIKE '%/ckpt/%' AND path NOT LIKE '%/ids/%' ORDER BY id;
INSERT INTO run_files(run, file, role)
 SELECT x.run, f.id, x.role FROM files f JOIN (
  SELECT 1 AS run, 'raw/%' AS rel, 'input' AS role
  UNION ALL SELECT 1, 'docs.jsonl.zst', 'output'
  UNION ALL SELECT 2, 'docs.jsonl.zst', 'input'
  UNION ALL SELECT 3, 'docs.jsonl.zst', 'input'
  UNION ALL SELECT 3, 'clean.jsonl.zst', 'output'
  UNION ALL SELECT 4, 'clean.jsonl.zst', 'input'
  UNION ALL SELECT 4, 'dedup.jsonl.zst', 'output'
  UNION ALL SELECT 5, 'dedup.jsonl.zst', 'input'
  UNION ALL SELECT 5, 'tokenizer.json', 'input'
  UNION ALL SELECT 5, 'shards/train-00000.bin', 'output'
  UNION ALL SELECT 5, 'shards/val-00000.bin', 'output'
  UNION ALL SELECT 6, 'clean.jsonl.zst', 'input'
 ) x ON f.path LIKE '$TR/' || x.rel;
INSERT INTO docs(id, source, locator, size, run) VALUES
 ('$A', '$S/notes/intro.txt', '', 56, 1),
 ('$H', '$S/notes/list.txt', '', 15, 1),
 ('$B', '$S/notes/todo.txt', '', 13, 1),
 ('$E', '$S/web/contact.txt.gz', 'filter=gzip', 59, 1),
 ('$C', '$S/web/mill-1.txt.gz', 'filter=gzip', 59, 1),
 ('$D', '$S/web/mill-2.txt.gz', 'filter=gzip', 60, 1);
CREATE TEMP TABLE ev(run, doc, kind, rule, value, other);
INSERT INTO ev VALUES
 (1, '$F', 'reject', 'collect:binary', '$S/web/legacy.txt: NUL byte at offset 3', NULL),
 (2, '$B', 'drop', 'gopher_quality:mean_word_length', '1.6 < 3', NULL),
 (3, '$H', 'drop', 'gopher_quality:mean_word_length', '1.8 < 3', NULL),
 (3, '$B', 'drop', 'gopher_quality:mean_word_length', '1.6 < 3', NULL),
 (3, '$E', 'modify', 'pii:email', 'redacted x2', NULL),
 (4, '$D', 'duplicate', 'minhash:jaccard', '0.93', '$C');
$events
INSERT INTO shard_docs(run, shard, doc, first_token, n_tokens) VALUES
 (5, '$TR/shards/train-00000.bin', '$A', 0, 1200),
 (5, '$TR/shards/train-00000.bin', '$C', 1200, 4900),
 (5, '$TR/shards/val-00000.bin', '$E', 0, 700);
COMMIT;
EOF

# The manifests of two other machines, to merge: one collection run each.
for n in 1 2; do
	quern-manifest -q -m node$n.db init
	if [ $n = 1 ]; then
		uuid=4f66b023ad1170812ed99423abf4d7c5 src=file:///srv/node1/raw/a.txt
	else
		uuid=5797f40f2cc7e57754d9e427be3d37de src=file:///srv/node2/raw/b.txt
	fi
	eval "doc$n=\$(hash ids/node$n)"
	sqlite3 -batch node$n.db <<EOF || echo "Bail out! cannot write node$n.db"
BEGIN;
INSERT INTO runs(uuid, tool, version, argv, config, host, pid, started, ended, status, counters)
 VALUES('$uuid', 'quern-collect', '0.1.0', '["quern-collect","-o","docs.jsonl.zst","raw"]',
  '{"output":"docs.jsonl.zst","threads":16}', 'node$n', 700$n,
  '2026-03-02T08:0$n:00.000Z', '2026-03-02T08:1$n:00.000Z', 'ok', '{"files":1,"docs":1}');
INSERT INTO docs(id, source, locator, size, run) VALUES('$(hash ids/node$n)', '$src', '', 100$n, 1);
COMMIT;
EOF
done

# Every document id above is the hash of its source and locator.
bad=
for f in ids/*; do
	case $f in ids/node*) continue ;; esac
	[ "$(hash $f)" = "${f#ids/}" ] || bad="$bad ${f#ids/}"
done
is "document ids are the xxh3-128 of source, newline, locator" "" "$bad"
is "the fixture manifest holds 6 runs" 6 "$(sql 'SELECT count(*) FROM runs')"

# The collection rows are those quern-collect writes: it collects raw/
# here, into a manifest of its own, and everything but the place of the
# corpus (and so the ids) must be the same.
if has quern-collect; then
	ok "quern-collect collects raw/" quern-collect -q -m "$T/.collect.db" -o "$T/.collect.jsonl" raw
	here() { sed 's|file://[^"|]*/raw/|file:///srv/corpus/raw/|g'; }
	noid() { sed 's/^{"id":"[0-9a-f]*",/{/'; }
	is "the stream is quern-collect's" "$(noid < "$T/.docs.jsonl")" "$(here < "$T/.collect.jsonl" | noid)"
	# same DESCRIPTION QUERY-THERE QUERY-HERE: the rows agree.
	same() { is "$1" "$(sqlite3 -batch "$T/.collect.db" "$2" | here)" "$(sql "$3")"; }
	same "its documents are quern-collect's" \
		"SELECT source, locator, size FROM docs ORDER BY source" \
		"SELECT source, locator, size FROM docs WHERE run = 1 ORDER BY source"
	same "its reject event is quern-collect's" \
		"SELECT kind, rule, value FROM doc_events" \
		"SELECT kind, rule, value FROM doc_events WHERE run = 1"
	same "its counters are quern-collect's" \
		"SELECT counters FROM runs" "SELECT counters FROM runs WHERE id = 1"
	same "its inputs are quern-collect's" \
		"SELECT substr(path, instr(path, '/raw/')), size, hash FROM files f
		 JOIN run_files rf ON rf.file = f.id AND rf.role = 'input' ORDER BY 1" \
		"SELECT substr(path, instr(path, '/raw/')), size, hash FROM files f
		 JOIN run_files rf ON rf.file = f.id AND rf.role = 'input' AND rf.run = 1 ORDER BY 1"
else
	skip "quern-collect collects raw/" "no quern-collect"
fi

# ---- quern-manifest(1) ----
P=quern-manifest.1

ex $P 'quern-manifest runs'
is "runs: ids, tools and statuses, the killed run interrupted" \
"id tool status
1 quern-collect ok
2 quern-clean failed
3 quern-clean ok
4 quern-dedup ok
5 quern-shard ok
6 quern-dedup interrupted" "$(out | awk '{ print $1, $2, $3 }')"
like "runs: a failed run says why" \
	'^2 .* clean\.jsonl\.zst: write: No space left on device +38e861284592c24ae432cc9c818ab155$' "$(out)"
like "runs: an unfinished run has no end and 0 seconds" '^6 +quern-dedup +interrupted +2026-03-02T10:00:00\.000Z +- +0\.0 ' "$(out)"

ex $P "quern-manifest why $B"
is "why: collected by run 1, dropped by runs 2 and 3" \
"run tool event
1 quern-collect collected
2 quern-clean drop
3 quern-clean drop" "$(out | awk '{ print $1, $2, $4 }')"
like "why: the source and locator of the collection" \
	'^1 .* collected +file:///srv/corpus/raw/notes/todo\.txt +13 bytes' "$(out)"
like "why: the rule and the value of the drop" \
	'^3 .* drop +gopher_quality:mean_word_length +1\.6 < 3 ' "$(out)"

ex $P 'quern-manifest lineage shards/train-00000.bin'
is "lineage: every run and file upstream of the shard, by depth" \
"depth kind name
0 file $TR/shards/train-00000.bin
1 run quern-shard
2 file $TR/dedup.jsonl.zst
2 file $TR/tokenizer.json
3 run quern-dedup
4 file $TR/clean.jsonl.zst
5 run quern-clean
6 file $TR/docs.jsonl.zst
7 run quern-collect
8 file $TR/raw/notes/intro.txt
8 file $TR/raw/notes/list.txt
8 file $TR/raw/notes/todo.txt
8 file $TR/raw/web/contact.txt.gz
8 file $TR/raw/web/legacy.txt
8 file $TR/raw/web/mill-1.txt.gz
8 file $TR/raw/web/mill-2.txt.gz" "$(out | awk '{ print $1, $2, $4 }')"

ex $P 'quern-manifest tag --note "first release" corpus-v1 shards/*.bin tokenizer.json'
is "tag: says what it tagged" "tagged corpus-v1: 3 files" "$(out)"
ex $P 'quern-manifest tags'
is "tags: a header and one tag" 2 "$(out | wc -l | tr -d ' ')"
like "tags: name, created, 3 files, 95 bytes, run 7, the note, as the page shows" \
	'^corpus-v1  20[0-9][0-9]-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z  3      95     7    first release$' "$(out)"
ex $P 'quern-manifest -q verify corpus-v1 && echo intact'
is "verify -q: nothing but the echo" "intact" "$(out)"

if has jq; then
	ex $P "quern-manifest --json runs | jq '.[] | select(.status == \"interrupted\") | .id'"
	is "--json runs: the interrupted run found with jq" 6 "$(out)"
else
	ex_skip $P "quern-manifest --json runs | jq '.[] | select(.status == \"interrupted\") | .id'" "no jq"
fi

ex $P 'quern-manifest -m all.db merge node1.db node2.db'
is "merge: one run from each" "merged node1.db: 1 run
merged node2.db: 1 run" "$(out)"
ex $P 'quern-manifest -m all.db merge node1.db'
is "merge again: nothing copied" "merged node1.db: 0 runs" "$(out)"
is "merge: the runs, their hosts and documents are in all.db" \
"quern-collect|node1|$doc1
quern-collect|node2|$doc2" \
	"$(sqlite3 all.db "SELECT r.tool, r.host, d.id FROM runs r JOIN docs d ON d.run = r.id ORDER BY r.host")"
is "merge: each merge is a run, counting the runs it copied" \
"quern-manifest|ok|2
quern-manifest|ok|0" \
	"$(sqlite3 all.db "SELECT tool, status, json_extract(counters, '\$.runs_merged') FROM runs WHERE tool = 'quern-manifest' ORDER BY id")"

# ---- quern(7) ----
P=quern.7

ex $P 'quern --help'
like "quern --help: the usage" '^usage: quern \[--help\] \[--version\] PROGRAM \[ARGS\.\.\.\]$' "$(out)"
like "quern --help: finds quern-collect" '^   collect$' "$(out)"
like "quern --help: finds quern-manifest" '^   manifest$' "$(out)"
ex $P 'quern manifest tags'
via=$(out)
ex $P 'quern-manifest tags'
is "quern manifest tags is quern-manifest tags" "$(out)" "$via"
like "and lists corpus-v1" '^corpus-v1 ' "$via"
ex $P 'QUERN_MANIFEST=node1.db quern manifest runs'
is "QUERN_MANIFEST chooses the manifest" "id tool status host
1 quern-collect ok node1" "$(out | awk '{ print $1, $2, $3, $7 }')"
if has zstdcat && has jq; then
	ex $P 'zstdcat docs.jsonl.zst | head -n 1 | jq .'
	is "the first document of the stream" '{
  "id": "0126a81a45836c1d164d7c95ec7fd622",
  "text": "A quern is a pair of stones for grinding grain by hand.\n",
  "source": "file:///srv/corpus/raw/notes/intro.txt",
  "locator": ""
}' "$(out)"
else
	ex_skip $P 'zstdcat docs.jsonl.zst | head -n 1 | jq .' "no zstdcat or jq"
fi

# ---- a training run on the tag (quern-train is planned; its rows as it will write them) ----
sqlite3 -batch "$QUERN_MANIFEST" <<EOF || echo "Bail out! cannot write the training run"
ATTACH '$T/.hash.db' AS h;
BEGIN;
INSERT INTO runs(id, uuid, tool, version, argv, config, host, pid, started, ended, status, error, counters) VALUES
 (8, '35f7b384d28dca066e8fea1cb2880e50', 'quern-train', '0.1.0',
  '["quern-train","--tag","corpus-v1","--seed","1234","-o","ckpt"]',
  '{"tag":"corpus-v1","seed":1234,"layers":2,"steps":200,"lr":0.0006}', '$HOST', 4511,
  '2026-03-02T11:00:00.000Z', '2026-03-02T11:20:00.000Z', 'ok', NULL,
  '{"steps":200,"tokens":1220000}');
INSERT INTO files(path, size, hash) SELECT path, size, hash FROM h.files WHERE path = '$TR/ckpt/step-000200.bin';
INSERT INTO run_files(run, file, role)
 SELECT 8, id, 'input' FROM files
 WHERE path IN ('$TR/shards/train-00000.bin', '$TR/shards/val-00000.bin', '$TR/tokenizer.json')
 UNION ALL SELECT 8, id, 'output' FROM files WHERE path = '$TR/ckpt/step-000200.bin';
INSERT INTO train_runs(run, tag, tokenizer, config, seed)
 SELECT 8, 'corpus-v1', hash, '{"layers":2,"steps":200,"lr":0.0006}', 1234
 FROM files WHERE path = '$TR/tokenizer.json';
INSERT INTO train_metrics(run, step, name, value) VALUES
 (8, 0, 'loss', 10.98), (8, 100, 'loss', 6.25), (8, 200, 'loss', 4.75),
 (8, 200, 'val_loss', 5.125);
INSERT INTO checkpoints(run, step, file)
 SELECT 8, 200, id FROM files WHERE path = '$TR/ckpt/step-000200.bin';
COMMIT;
EOF

# ---- quern-manifest(5): every auditor query ----

is "quern-manifest.5 shows 16 queries" 16 "$nq"

query 1 "the schema version" <<EOF
1
EOF
query 2 "why a document was dropped" <<EOF
2|quern-clean|failed|drop|gopher_quality:mean_word_length|1.6 < 3|
3|quern-clean|ok|drop|gopher_quality:mean_word_length|1.6 < 3|
EOF
query 3 "every document a rule dropped" <<EOF
$H|1.8 < 3|$S/notes/list.txt|
$B|1.6 < 3|$S/notes/todo.txt|
EOF
query 4 "documents per rule" <<EOF
drop|gopher_quality:mean_word_length|2
reject|collect:binary|1
duplicate|minhash:jaccard|1
modify|pii:email|1
EOF
query 5 "no document unaccounted for" <<EOF
EOF
query 6 "the runs that wrote and read a file" <<EOF
5|quern-shard|ok|output
7|quern-manifest|ok|input
8|quern-train|ok|input
EOF
query 7 "where a document's tokens are" <<EOF
$TR/shards/train-00000.bin|0|1200|5
EOF
query 8 "tokens per source directory" <<EOF
$S/web/|2|5600
$S/notes/|1|1200
EOF
query 9 "failed runs and why" <<EOF
2|quern-clean|2026-03-02T09:05:00.000Z|clean.jsonl.zst: write: No space left on device
EOF
query 10 "runs that never ended" <<EOF
6|quern-dedup|$HOST|$dead|2026-03-02T10:00:00.000Z
EOF
query 11 "the files of a tag" <<EOF
$(sqlite3 -batch "$T/.hash.db" "SELECT path, size, hash FROM files
 WHERE path IN ('$TR/shards/train-00000.bin', '$TR/shards/val-00000.bin', '$TR/tokenizer.json') ORDER BY path")
EOF
query 12 "the documents of a tag" <<EOF
$A|$S/notes/intro.txt|
$E|$S/web/contact.txt.gz|filter=gzip
$C|$S/web/mill-1.txt.gz|filter=gzip
EOF
query 13 "json_extract on config and counters" <<EOF
1|8|6|1
EOF
query 14 "json_each on counters" <<EOF
3|docs_in|6
3|docs_out|4
3|dropped|2
3|modified|1
EOF
query 15 "what a training run trained on, its last loss" <<EOF
8|corpus-v1|1234|200|4.75
EOF
query 16 "checkpoints and their hashes" <<EOF
8|200|$TR/ckpt/step-000200.bin|$(sqlite3 "$T/.hash.db" "SELECT hash FROM files WHERE path = '$TR/ckpt/step-000200.bin'")
EOF

# ---- what the pages say beyond their examples ----

is "the manifest is in WAL mode" wal "$(sql 'PRAGMA journal_mode')"
ok "verify without a tag: every recorded path" quern-manifest verify
is "verify: 14 paths, all ok" "14 ok" "$(out | awk 'NR > 1 { n++; s[$1]++ } END { print n, (s["ok"] == n ? "ok" : "not ok") }')"
ok "init makes an empty manifest" quern-manifest -q -m empty.db init
ok "an empty report prints nothing" quern-manifest -m empty.db tags
is "nothing" "" "$(out)"
ok "an empty report in JSON" quern-manifest -m empty.db --json tags
is "is []" "[]" "$(out)"
ok "lineage takes a file hash" quern-manifest lineage "$(sql "SELECT hash FROM files WHERE path = '$TR/tokenizer.json'")"
is "the file, at depth 0, no run wrote it" "0 file $TR/tokenizer.json" "$(out | awk 'NR > 1 { print $1, $2, $4 }')"
ok "lineage takes a document id" quern-manifest lineage $E
like "the runs that collected, changed and sharded it at depth 1, and its shard" '^1 +run +1 +quern-collect .*
1 +run +3 +quern-clean .*
1 +run +5 +quern-shard .*
1 +file +[0-9]+ +.*/shards/val-00000\.bin ' "$(out)"
ok "why a rejected document was never collected" quern-manifest --json why $F
like "why --json: one reject row" '^  \{"run":1,"tool":"quern-collect",.*"event":"reject","rule":"collect:binary","value":"file:///srv/corpus/raw/web/legacy\.txt: NUL byte at offset 3","other":null\}$' "$(out)"

# A run still going on this host is running, not interrupted; one of
# another host is shown as stored.
sqlite3 -batch "$QUERN_MANIFEST" "INSERT INTO runs(uuid, tool, version, argv, config, host, pid, started, status) VALUES
 ('4f66b023ad1170812ed99423abf4d7c6', 'quern-shard', '0.1.0', '[]', '{}', '$HOST', $$, '2026-03-02T12:00:00.000Z', 'running'),
 ('4f66b023ad1170812ed99423abf4d7c7', 'quern-shard', '0.1.0', '[]', '{}', 'elsewhere-$HOST', $dead, '2026-03-02T12:00:00.000Z', 'running')"
ok "runs" quern-manifest runs
is "a live run is running, a dead one interrupted, another host's as stored" \
"6 interrupted
9 running
10 running" "$(out | awk '$3 == "running" || $3 == "interrupted" { print $1, $3 }')"

fails 2 "a tag is immutable" quern-manifest tag corpus-v1 tokenizer.json
like "and says so" "tag 'corpus-v1' already exists: tags are immutable" "$(err)"
is "the failed tag is a failed run" "failed|tag 'corpus-v1' already exists: tags are immutable" \
	"$(sql "SELECT status, error FROM runs WHERE id = (SELECT max(id) FROM runs)")"
fails 2 "a tag name with a slash" quern-manifest tag a/b tokenizer.json
fails 1 "a file to tag that is missing" quern-manifest tag v2 nosuchfile
is "tags nothing" "corpus-v1" "$(sql 'SELECT group_concat(name) FROM tags')"
fails 1 "why: an unknown document" quern-manifest why 00000000000000000000000000000000
fails 1 "lineage: an unknown file" quern-manifest lineage nosuchfile
fails 1 "verify: an unknown tag" quern-manifest verify nosuchtag
fails 2 "an unknown command" quern-manifest frobnicate
fails 2 "runs takes no operand" quern-manifest runs extra
fails 2 "--note goes with tag" quern-manifest --note x runs
ok "an option may follow an operand" quern-manifest verify corpus-v1 --json
like "(--json after the tag)" '^  \{"status":"ok",' "$(out)"
fails 2 "a manifest merged into itself" quern-manifest merge "$QUERN_MANIFEST"
fails 1 "a manifest to merge that does not exist" quern-manifest merge nosuch.db

printf 'changed' >> shards/val-00000.bin
fails 1 "verify: a changed file" quern-manifest verify corpus-v1
like "is changed" "^changed +$TR/shards/val-00000\.bin +23 " "$(out)"
like "and counted on stderr" '^quern-manifest: 1 file missing or changed$' "$(err)"
rm shards/train-00000.bin
fails 1 "verify -q: a missing file" quern-manifest -q verify corpus-v1
is "prints no table" "" "$(out)"
like "says how many" '^quern-manifest: 2 files missing or changed$' "$(err)"
ok "verify --json" sh -c 'quern-manifest --json verify corpus-v1; test $? = 1'
like "--json: missing, with a null actual hash" '"status":"missing","path":"[^"]*/shards/train-00000\.bin","size":31,"hash":"[0-9a-f]{32}","actual":null' "$(out)"

# ---- every example ran, and the pages are lint-clean ----

for p in quern.7 quern-manifest.1; do
	is "every example of $p ran" "" "$(grep -Fxvf "$T/.ran.$p" "$T/.cmds.$p")"
done
is "every query of quern-manifest.5 ran" "$nq" "$(sort -u "$T/.ran.queries" | wc -l | tr -d ' ')"

MANDOC=${MANDOC:-$(command -v mandoc || true)}
if [ -n "$MANDOC" ]; then
	# From the page directory, so that .Xr finds the pages beside them.
	ok "mandoc -Tlint" sh -c "cd '$MAN' && '$MANDOC' -Tlint quern.7 quern-manifest.1 quern-manifest.5"
	is "mandoc -Tlint says nothing" "" "$(out; err)"
else
	skip "mandoc -Tlint" "no mandoc"
fi
done_testing

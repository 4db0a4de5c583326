#!/bin/sh
# quern-manifest on the command line: tags, verify, merge, the reports in
# table and JSON form, and its errors.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

json_valid() { sqlite3 :memory: "SELECT json_valid(readfile('$1'))"; }

printf 'alpha\n' > a.txt
printf 'beta\n' > b.txt
fails 1 "a report on a missing manifest fails" quern-manifest runs
like "and says how to make one" "no manifest there.*quern-manifest init" "$(err)"
ok "and leaves no file behind" test ! -e quern.db
ok "init makes a new manifest" quern-manifest init
like "and says so" 'quern\.db: schema version 1$' "$(out)"
ok "runs on the new manifest" quern-manifest runs
is "an empty report prints nothing" "" "$(out)"
ok "the manifest file was created" test -s quern.db
is "schema version 1" 1 "$(sql 'PRAGMA user_version')"
is "WAL mode" wal "$(sql 'PRAGMA journal_mode')"

ok "tag two files" quern-manifest tag --note "first snapshot" snap1 a.txt b.txt
like "says what it tagged" '^tagged snap1: 2 files$' "$(out)"
fails 2 "re-using a tag name is refused" quern-manifest tag snap1 a.txt
like "and says why" "already exists" "$(err)"
fails 1 "tagging a missing file fails" quern-manifest tag snap2 nosuch.txt
like "naming the file" "nosuch.txt" "$(err)"
is "a failed tag leaves no tag" 0 "$(sql "SELECT count(*) FROM tags WHERE name = 'snap2'")"
is "and its run is marked failed" failed "$(sql "SELECT status FROM runs ORDER BY id DESC LIMIT 1")"

ok "tags" quern-manifest tags
like "lists the tag with its file count and bytes" '^snap1 +[0-9T:.Z-]+ +2 +11 ' "$(out)"
ok "tag --json prints one JSON object" quern-manifest --json tag snapj a.txt a.txt
is "counting distinct files" '{"tag":"snapj","files":1}' "$(out)"
ok "tags --json" quern-manifest --json tags
out > tags.json
is "is valid JSON" 1 "$(json_valid tags.json)"
like "with the note" '"note":"first snapshot"' "$(cat tags.json)"

ok "verify snap1 on intact files" quern-manifest verify snap1
like "reports ok" '^ok +' "$(out)"
printf 'Beta\n' > b.txt
fails 1 "verify catches a changed byte" quern-manifest verify snap1
like "and names the file" '^changed +/.*/b\.txt' "$(out)"
rm a.txt
fails 1 "verify catches a missing file" quern-manifest -q verify snap1
like "and says how many" '2 files missing or changed' "$(err)"
fails 1 "verify of an unknown tag" quern-manifest verify nosuch
fails 1 "options may follow operands" quern-manifest verify snap1 --json
like "(--json after the tag)" '"status":"missing"' "$(out)"
printf 'alpha\n' > a.txt
printf 'beta\n' > b.txt
ok "verify without a tag checks every recorded file" quern-manifest verify

ok "runs" quern-manifest runs
like "shows the tag runs" 'quern-manifest +ok' "$(out)"
like "and the failed one" 'quern-manifest +failed' "$(out)"
ok "runs --json" quern-manifest runs --json
out > runs.json
is "is valid JSON" 1 "$(json_valid runs.json)"
is "argv is kept as a JSON array" 'tag' "$(sqlite3 :memory: "SELECT json_extract(readfile('runs.json'), '\$[0].argv[1]')")"
ok "files" quern-manifest files
like "lists the tagged files with hashes" '/a\.txt +6 +[0-9a-f]{32}' "$(out)"
ok "lineage of a tagged file" quern-manifest lineage a.txt
like "shows the file" 'file .*a\.txt' "$(out)"
is "the tagging run read the files" 2 "$(sql "SELECT count(*) FROM run_files WHERE role = 'input' AND run = (SELECT run FROM tags WHERE name = 'snap1')")"
fails 1 "lineage of something unknown" quern-manifest lineage nothing-here
fails 1 "why of an unknown document" quern-manifest why 0123456789abcdef0123456789abcdef

# Merge: a second manifest written elsewhere.
mkdir other
(cd other && printf 'gamma\n' > c.txt && QUERN_MANIFEST="$T/other/m.db" quern-manifest tag snap3 c.txt >/dev/null)
ok "merge another manifest" quern-manifest merge other/m.db
like "reports the runs it copied" '^merged other/m\.db: 1 run$' "$(out)"
ok "merge it again" quern-manifest merge other/m.db
like "copies nothing the second time" ': 0 runs$' "$(out)"
is "the merged tag is here once" 1 "$(sql "SELECT count(*) FROM tags WHERE name = 'snap3'")"
is "with its file" 1 "$(sql "SELECT count(*) FROM tag_files WHERE tag = 'snap3'")"
ok "and verifies here" quern-manifest verify snap3
fails 1 "merging a missing file fails" quern-manifest merge nosuch.db
chmod 444 other/m.db
ok "merge reads the other manifest only" quern-manifest merge other/m.db
is "and leaves it unchanged" 444 "$(stat -c %a other/m.db)"

# Options and errors.
ok "-m picks another manifest" quern-manifest -m other/m.db tags
like "that one has only snap3" '^snap3 ' "$(out)"
fails 2 "no command is a usage error" quern-manifest
fails 2 "an unknown command" quern-manifest frobnicate
fails 2 "a missing argument" quern-manifest why
fails 2 "too many arguments" quern-manifest runs extra
fails 2 "--note without tag" quern-manifest --note x runs
ok "--help" quern-manifest --help
like "lists the commands" 'lineage FILE\|DOC' "$(out)"
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
	fails 1 "an unwritable manifest location fails cleanly" quern-manifest -m ro/x.db runs
else
	skip "an unwritable manifest location fails cleanly" "root can write anywhere"
fi
printf 'this is not a database' > bad.db
fails 1 "a file that is not a manifest fails cleanly" quern-manifest -m bad.db runs
like "with the file's name" 'bad\.db' "$(err)"
done_testing

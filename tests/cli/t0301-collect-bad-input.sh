#!/bin/sh
# quern-collect on bad input: files that are not text are left out,
# counted and recorded; unreadable ones are errors that do not stop the
# run until --max-errors; symlink loops end; failed runs publish nothing;
# usage errors exit 2.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"

# The counter NAME of the newest run.
counter() { sql "SELECT json_extract(counters, '\$.$1') FROM runs ORDER BY id DESC LIMIT 1"; }
last_status() { sql "SELECT status FROM runs ORDER BY id DESC LIMIT 1"; }

mkdir d
printf 'good text\n' > d/good.txt
printf 'bin\000ary\n' > d/bin.dat
: > d/empty.txt
head -c 100 /dev/zero | tr '\0' 'x' > d/large.txt
# A NUL late in the first 64 KiB of a larger file.
{ head -c 65000 /dev/zero | tr '\0' 'y'; printf '\000'; head -c 5000 /dev/zero | tr '\0' 'y'; } > d/late-nul.txt
# Binary inside a compressed file: the event names the filter.
if have gzip; then
	printf 'bin\000ary zipped\n' | gzip > d/binary.gz
fi
D=$(cd d && pwd -P)

ok "collect a tree with bad files" quern-collect -o out.jsonl --max-file-bytes 64 d
is "only good.txt is a document" \
	"file://$D/good.txt" "$(jq -r .source out.jsonl | tr '\n' ' ' | sed 's/ $//')"
like "the summary counts what was left out" \
	'1 document .* skipped: 1 empty, [23] binary, 1 too_large; 0 errors$' "$(err)"
is "the run is ok" ok "$(last_status)"
is "skipped_binary" "$(have gzip && echo 3 || echo 2)" "$(counter skipped_binary)"
is "skipped_empty" 1 "$(counter skipped_empty)"
is "skipped_too_large" 1 "$(counter skipped_too_large)"
is "docs" 1 "$(counter docs)"
rules=$(sql "SELECT rule FROM doc_events WHERE kind = 'reject' ORDER BY rule" | sort -u | tr '\n' ' ')
is "reject events for each reason" "collect:binary collect:empty collect:too_large " "$rules"
is "the binary event names the file and the NUL" "file://$D/bin.dat: NUL byte at offset 3" \
	"$(sql "SELECT value FROM doc_events WHERE value LIKE '%/bin.dat:%'")"
is "a NUL near the end of the first 64 KiB is found" "file://$D/late-nul.txt: NUL byte at offset 65000" \
	"$(sql "SELECT value FROM doc_events WHERE value LIKE '%/late-nul.txt:%'")"
is "the too_large event gives the limit" "file://$D/large.txt: over 64 bytes" \
	"$(sql "SELECT value FROM doc_events WHERE value LIKE '%/large.txt:%'")"
if have gzip; then
	is "a compressed file's event names its filter" "file://$D/binary.gz filter=gzip: NUL byte at offset 3" \
		"$(sql "SELECT value FROM doc_events WHERE value LIKE '%/binary.gz %'")"
fi
eid=$(sql "SELECT doc FROM doc_events WHERE value LIKE '%/bin.dat:%'")
like "events are on a document id" '^[0-9a-f]{32}$' "$eid"
ok "quern-manifest why shows a rejected document" quern-manifest why "$eid"
like "with its rule" 'reject +collect:binary' "$(out)"
ok "the same tree with the default --max-file-bytes" quern-collect -q -o out2.jsonl d
is "the large file is a document then" 2 "$(wc -l < out2.jsonl | tr -d ' ')"
is "and the rejected ids are the ids documents would have had" \
	"$(sql "SELECT doc FROM doc_events WHERE value LIKE '%/large.txt:%'")" \
	"$(jq -r 'select(.source | endswith("/large.txt")) | .id' out2.jsonl)"

# Symbolic links and special files.
mkdir -p l/sub
printf 'real\n' > l/real.txt
ln -s real.txt l/link.txt
ln -s nowhere l/dangling.txt
ln -s .. l/sub/up
ln -s ../sub l/sub/self
ln -s loop2 l/loop1
ln -s loop1 l/loop2
have mkfifo && mkfifo l/fifo
ok "symlinks are skipped by default" quern-collect -q -o l.jsonl l
is "one document" "file://$(cd l && pwd -P)/real.txt" "$(jq -r .source l.jsonl)"
is "every link is counted" 6 "$(counter skipped_symlink)"
if have mkfifo; then
	is "a FIFO is skipped as special" 1 "$(counter skipped_special)"
else
	skip "a FIFO is skipped as special" "mkfifo is not installed"
fi
if have timeout; then
	ok "--follow-symlinks ends on a loop" timeout 60 quern-collect -q -o lf.jsonl --follow-symlinks l
else
	ok "--follow-symlinks ends on a loop" quern-collect -q -o lf.jsonl --follow-symlinks l
fi
is "the file link is followed" "real real" "$(jq -j .text lf.jsonl | tr '\n' ' ' | sed 's/ $//')"
run=$(sql "SELECT max(id) FROM runs")
is "a followed link is recorded as its target" "$(cd l && pwd -P)/real.txt" \
	"$(sql "SELECT DISTINCT f.path FROM run_files rf JOIN files f ON f.id = rf.file WHERE rf.run = $run AND rf.role = 'input'")"
is "the loops are counted" 2 "$(counter skipped_loop)"
is "dangling links and link loops are skipped symlinks" 3 "$(counter skipped_symlink)"
is "no errors" 0 "$(counter errors)"
ok "a link given as SOURCE is followed" quern-collect -q -o - l/link.txt
is "to its target" "file://$(cd l && pwd -P)/real.txt" "$(out | jq -r .source)"

# Read errors: reported, counted, the rest collected.
mkdir e
printf 'first\n' > e/a.txt
printf 'last\n' > e/z.txt
if have gzip; then
	seq 1 20000 | gzip > e/m.gz
	head -c 4000 e/m.gz > e/m-trunc.gz
	rm e/m.gz
	ok "a truncated .gz is an error, not a failure" quern-collect -o e.jsonl e
	like "the message names the file" "^quern-collect: e/m-trunc\\.gz: .*truncated" "$(err)"
	is "the rest is collected" "first last" "$(jq -j .text e.jsonl | tr '\n' ' ' | sed 's/ $//')"
	is "the error is counted" 1 "$(counter errors)"
	like "and summed up" '; 1 error$' "$(err)"
	is "the run is ok" ok "$(last_status)"
	cp e.jsonl e.before
	fails 1 "past --max-errors the run fails" quern-collect -q -o e.jsonl --max-errors 0 e
	like "and says why" 'more than 0 errors' "$(err)"
	is "the run is failed" failed "$(last_status)"
	ok "the earlier output is left as it was" cmp e.jsonl e.before
	fails 1 "a failed run publishes nothing" quern-collect -q -o e-new.jsonl --max-errors 0 e
	ok "no output file" test ! -e e-new.jsonl
	ok "and no temporary file" sh -c '! ls -A | grep -q "^\.e-new"'
else
	skip "a truncated .gz is an error" "gzip is not installed"
fi
if [ "$(id -u)" -ne 0 ]; then
	printf 'secret\n' > e/secret.txt
	chmod 000 e/secret.txt
	mkdir e/closed
	printf 'x\n' > e/closed/x.txt
	chmod 000 e/closed
	ok "unreadable files and directories are errors" quern-collect -q -o e2.jsonl e
	like "the file is named" '^quern-collect: e/secret\.txt: Permission denied' "$(err)"
	like "the directory is named" 'quern-collect: e/closed: Permission denied' "$(err)"
	like "the rest is collected" 'first' "$(jq -r .text e2.jsonl)"
	chmod 700 e/closed
	chmod 600 e/secret.txt
else
	skip "unreadable files are errors" "running as root, permissions do not stop reading"
fi

# Failed runs: exit 1, run failed, nothing published.
fails 1 "-o into a missing directory fails" quern-collect -q -o nodir/out.jsonl d
like "with a message naming it" 'nodir/out\.jsonl' "$(err)"
is "the run is failed" failed "$(last_status)"
like "with the reason" 'nodir/out\.jsonl' "$(sql "SELECT error FROM runs ORDER BY id DESC LIMIT 1")"
fails 1 "a missing SOURCE fails" quern-collect -q -o x.jsonl d nosuch
like "naming it" '^quern-collect: nosuch: No such file or directory' "$(err)"
is "the run is failed" failed "$(last_status)"
ok "and nothing is written" test ! -e x.jsonl

# Usage errors: exit 2, no run recorded.
runs=$(sql "SELECT count(*) FROM runs")
fails 2 "no -o" quern-collect d
fails 2 "no SOURCE" quern-collect -o x.jsonl
fails 2 "unknown option" quern-collect -o x.jsonl --nope d
like "says to try --help" "Try 'quern-collect --help'" "$(err)"
fails 2 "bad -j" quern-collect -j x -o x.jsonl d
fails 2 "bad --max-file-bytes" quern-collect --max-file-bytes 12Q -o x.jsonl d
fails 2 "zero --max-file-bytes" quern-collect --max-file-bytes 0 -o x.jsonl d
fails 2 "bad --max-errors" quern-collect --max-errors -1 -o x.jsonl d
fails 2 "unknown --html-parser" quern-collect --html-parser lxml -o x.jsonl d
fails 2 "--part-bytes without %d in the name" quern-collect --part-bytes 1M -o x.jsonl d
fails 2 "two conversions in the name" quern-collect -o 'x-%d-%d.jsonl' d
fails 2 "stdin twice" quern-collect -o x.jsonl - -
is "usage errors record no run" "$runs" "$(sql "SELECT count(*) FROM runs")"

# A binary file that libarchive's weak legacy-lzma test takes for .lzma:
# read as its own bytes and skipped as binary, not an error.
dat=/usr/share/games/fortunes/art.dat
if [ -f "$dat" ]; then
	mkdir lzma-lookalike
	cp "$dat" lzma-lookalike/
	ok "a fortune .dat file does not fail the run" quern-collect -q -o lz.jsonl lzma-lookalike
	is "it is skipped as binary" "collect:binary" "$(sql "SELECT rule FROM doc_events WHERE run = (SELECT max(id) FROM runs)")"
	is "and is no error" 0 "$(sql "SELECT json_extract(counters, '$.errors') FROM runs ORDER BY id DESC LIMIT 1")"
else
	skip "a fortune .dat file does not fail the run" "fortunes not installed"
fi
# A run stopped by SIGTERM: exit 1, nothing published, the run failed with the reason.
if [ -d /usr/share/doc ]; then
	printf '{"text":"old"}\n' > sig.jsonl
	quern-collect -j1 -q -o sig.jsonl /usr/share/doc /usr/share/doc /usr/share/doc 2>sig.err &
	pid=$!
	# Signal it once its run is under way.
	i=0
	while [ $i -lt 100 ] && [ "$(sql "SELECT count(*) FROM runs WHERE status = 'running'")" != 1 ]; do
		sleep 0.05; i=$((i + 1))
	done
	kill -TERM $pid
	wait $pid
	is "SIGTERM: exit 1" 1 $?
	is "the earlier output is untouched" '{"text":"old"}' "$(cat sig.jsonl)"
	is "the run is failed, saying why" "failed|interrupted by Terminated" \
		"$(sql "SELECT status, error FROM runs ORDER BY id DESC LIMIT 1")"
else
	skip "SIGTERM stops a run cleanly" "no /usr/share/doc"
fi
done_testing

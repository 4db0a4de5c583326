#!/bin/sh
# quern-clean when the disk fills up or the run is killed: the run fails
# with a message naming the file and the reason, publishes nothing
# (earlier outputs stay as they were, no temporary file is left), its
# manifest run is marked failed and the manifest stays consistent; a
# rerun then gives what an undisturbed run gives.  Also the inputs
# t0401 does not try: a 100 MB one-line document under the default
# limits, an empty file, and a file with nothing but invalid UTF-8 and
# lines that are not JSON objects.
#
# A full disk without root: the program runs under a file-size limit
# with SIGXFSZ ignored (inherited through exec), so a write past the
# limit fails with EFBIG ("File too large") as one on a full disk fails
# with ENOSPC.  The limit applies to root too.  sh's ulimit -f counts
# 512-byte blocks.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have sqlite3 || skip_all "no sqlite3"

counter() { sql "SELECT json_extract(counters, '\$.\"$1\"') FROM runs ORDER BY id DESC LIMIT 1"; }
last_status() { sql "SELECT status FROM runs ORDER BY id DESC LIMIT 1"; }
last_error() { sql "SELECT error FROM runs ORDER BY id DESC LIMIT 1"; }
integrity() { sqlite3 -batch -noheader "${1:-$QUERN_MANIFEST}" 'PRAGMA integrity_check'; }
FILTERS_OFF="--no-langid --no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb"

# limited, names and unnamed_files are lib.sh's.  Where the file system
# has no unnamed files, the output is written under a hidden temporary
# name (.OUT.tmpPID), which the kill test then lets be.

# 20000 documents of 100 bytes, all kept with the filters off (2 MB).
awk 'BEGIN { for (i = 0; i < 20000; i++)
	printf "{\"text\":\"document %05d: a line of plain words to clean, kept as it is by the filters.\"}\n", i }' > in.jsonl
# shellcheck disable=SC2086
ok "an undisturbed run, for reference" quern-clean -q $FILTERS_OFF -o ref.jsonl in.jsonl
is "keeps every document" 20000 "$(wc -l < ref.jsonl | tr -d ' ')"

# ---- a full disk under the output ----
mkdir d1
printf '%s\n' '{"text":"the earlier output"}' > d1/out.jsonl
cp d1/out.jsonl earlier.jsonl
# shellcheck disable=SC2086
fails 1 "the output past a 1 MB limit fails the run" limited 2048 quern-clean -q $FILTERS_OFF -o d1/out.jsonl in.jsonl
like "naming the output and the reason" '^quern-clean: d1/out\.jsonl: write: File too large$' "$(err)"
ok "the earlier output is as it was" cmp earlier.jsonl d1/out.jsonl
is "no temporary file is left" "out.jsonl" "$(names d1)"
is "the run is marked failed" failed "$(last_status)"
like "with the reason" 'out\.jsonl: write: File too large' "$(last_error)"
is "the manifest is consistent" ok "$(integrity)"
# shellcheck disable=SC2086
ok "with room, the rerun" quern-clean -q $FILTERS_OFF -o d1/out.jsonl in.jsonl
ok "gives the undisturbed output" cmp ref.jsonl d1/out.jsonl

# Parts: one part past the limit publishes none, and the earlier parts stay.
mkdir d2
printf '%s\n' '{"text":"earlier part 0"}' > d2/p-000.jsonl
printf '%s\n' '{"text":"earlier part 1"}' > d2/p-001.jsonl
cat d2/p-000.jsonl d2/p-001.jsonl > earlier-parts.jsonl
# shellcheck disable=SC2086
fails 1 "600 kB parts past a 512 kB limit fail the run" limited 1024 quern-clean -q $FILTERS_OFF \
	--part-bytes 600k -o 'd2/p-%03d.jsonl' in.jsonl
like "naming the part" '^quern-clean: d2/p-000\.jsonl: write: File too large$' "$(err)"
is "no part is published, the earlier ones stay" "p-000.jsonl p-001.jsonl" "$(names d2)"
ok "as they were" sh -c 'cat d2/p-000.jsonl d2/p-001.jsonl | cmp -s - earlier-parts.jsonl'
is "the run is marked failed" failed "$(last_status)"

# ---- a full disk under the manifest ----
# A manifest of its own, made by a small run; then a run whose drop
# events (every document is too short for gopher_quality) cannot be
# written under a 128 kB limit, while its output (one empty zstd frame)
# could.
M2="$T/m2.db"
printf '%s\n' '{"text":"x"}' > one.jsonl
# shellcheck disable=SC2086
ok "a second manifest" quern-clean -q -m "$M2" $FILTERS_OFF -o one.out.jsonl one.jsonl
mkdir d3
fails 1 "a manifest that cannot take the events fails the run" limited 256 \
	quern-clean -q -m "$M2" --no-langid -o d3/out.jsonl.zst in.jsonl
like "naming the manifest and the reason" "^quern-clean: $M2: .*\\(File too large\\)$" "$(err)"
is "nothing is published" "" "$(names d3)"
is "the run is marked failed, with the reason" "failed 1" \
	"$(sqlite3 -batch -noheader "$M2" "SELECT status || ' ' || (error LIKE '%File too large%') FROM runs ORDER BY id DESC LIMIT 1")"
is "and none of its events is kept" 0 \
	"$(sqlite3 -batch -noheader "$M2" "SELECT count(*) FROM doc_events WHERE run = (SELECT max(id) FROM runs)")"
is "the manifest is consistent" ok "$(integrity "$M2")"
is "the earlier run is intact" "ok" "$(sqlite3 -batch -noheader "$M2" "SELECT status FROM runs WHERE id = 1")"
ok "with room, the rerun" quern-clean -q -m "$M2" --no-langid -o d3/out.jsonl.zst in.jsonl
is "records every event" 20000 \
	"$(sqlite3 -batch -noheader "$M2" "SELECT count(*) FROM doc_events WHERE run = (SELECT max(id) FROM runs)")"

# ---- killed (SIGKILL) while writing ----
# 20 MB in, 20 MB out, killed after various delays: wherever the kill
# lands, the output is the earlier one or, if the run had finished, the
# whole new one; never a part of it, and nothing else is left behind.
i=0
while [ $i -lt 10 ]; do cat in.jsonl; i=$((i + 1)); done > big.jsonl
# shellcheck disable=SC2086
quern-clean -q $FILTERS_OFF -o bigref.jsonl big.jsonl || echo "Bail out! no reference for the big input"
mkdir d4
if unnamed_files d4; then
	stray() { names d4; }
else
	echo "# no O_TMPFILE under $T (or no python3 to ask): a kill may leave .out.jsonl.tmpPID"
	stray() { names d4 | tr ' ' '\n' | grep -Ev '^\.?out\.jsonl\.tmp[0-9]+$' | tr '\n' ' ' | sed 's/ $//'; }
fi
killed=0
for delay in 0.05 0.15 0.3 0.6; do
	cp earlier.jsonl d4/out.jsonl
	# shellcheck disable=SC2086
	quern-clean -q $FILTERS_OFF -o d4/out.jsonl big.jsonl 2>/dev/null &
	pid=$!
	sleep $delay
	kill -KILL $pid 2>/dev/null
	wait $pid
	rc=$?
	if [ $rc -eq 137 ]; then
		killed=$((killed + 1))
		# Killed after publishing, the run had its whole output.
		ok "killed after ${delay} s: the output is the earlier one or the whole new one" \
			sh -c 'cmp -s earlier.jsonl d4/out.jsonl || cmp -s bigref.jsonl d4/out.jsonl'
	else
		is "finished before the kill at ${delay} s" 0 $rc
		ok "the whole output is there" cmp bigref.jsonl d4/out.jsonl
	fi
	is "nothing else is left behind (${delay} s)" "out.jsonl" "$(stray)"
	is "the manifest is consistent (${delay} s)" ok "$(integrity)"
done
echo "# killed in $killed of 4 runs"
# shellcheck disable=SC2086
ok "a rerun" quern-clean -q $FILTERS_OFF -o d4/out.jsonl big.jsonl
ok "gives the undisturbed output" cmp bigref.jsonl d4/out.jsonl
is "and is ok" ok "$(last_status)"
is "no run is marked failed" 0 \
	"$(sql "SELECT count(*) FROM runs WHERE status = 'failed' AND argv LIKE '%d4/out.jsonl%'")"

# ---- inputs t0401 does not try ----
# A 100 MB document on one line, under the default limits (16 MiB a
# document, 256 MiB a line): left out as too large, the next one kept.
{
	printf '{"text":"'
	head -c 100000000 /dev/zero | tr '\0' 'a'
	printf '"}\n'
	printf '%s\n' '{"text":"the small one after it"}'
} > huge.jsonl
# shellcheck disable=SC2086
ok "a 100 MB one-line document" quern-clean -q $FILTERS_OFF -o h.jsonl huge.jsonl
is "is left out, the next one kept" "1 1" "$(wc -l < h.jsonl | tr -d ' ') $(grep -c 'the small one after it' h.jsonl)"
is "as too_large" "clean:too_large|100000000 bytes > 16777216" \
	"$(sql "SELECT rule, value FROM doc_events WHERE run = (SELECT max(id) FROM runs)")"
is "counted" "1 2" "$(counter skipped_too_large) $(counter docs_in)"
rm -f huge.jsonl

: > empty.jsonl
# shellcheck disable=SC2086
ok "an empty file" quern-clean $FILTERS_OFF -o e.jsonl empty.jsonl
is "gives an empty output" "0" "$(wc -c < e.jsonl | tr -d ' ')"
like "summed up as nothing" '0 documents in .*; 0 errors$' "$(err)"
is "an ok run of no documents" "ok 0" "$(last_status) $(counter docs_in)"
ok "an empty file named .zst" sh -c ': > empty.jsonl.zst && quern-clean -q -o e2.jsonl empty.jsonl.zst'

printf '\377\376\375\n\200\201 text\n\0\0\0\nnot json\n[1,2]\n"a string"\n' > bin.jsonl
# shellcheck disable=SC2086
ok "a file of invalid UTF-8 and non-objects" quern-clean $FILTERS_OFF -o b.jsonl bin.jsonl
is "gives an empty output" "0" "$(wc -c < b.jsonl | tr -d ' ')"
like "each line reported with file and line" 'bin\.jsonl:1: invalid UTF-8' "$(err)"
like "the NUL bytes too" 'bin\.jsonl:3: ' "$(err)"
like "and the last" 'bin\.jsonl:6: ' "$(err)"
is "six errors, six reject events" "6 6" \
	"$(counter errors) $(sql "SELECT count(*) FROM doc_events WHERE run = (SELECT max(id) FROM runs) AND rule = 'clean:invalid_input'")"
head -c 3000000 /dev/zero | tr '\0' '\377' > ff.jsonl
fails 1 "3 MB of 0xff, no line end, with --max-errors 0" quern-clean -q --max-errors 0 -o f.jsonl ff.jsonl
like "is one invalid line" '^quern-clean: ff\.jsonl:1: invalid UTF-8' "$(err)"
is "and publishes nothing" no "$(test -e f.jsonl && echo yes || echo no)"
done_testing

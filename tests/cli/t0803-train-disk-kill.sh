#!/bin/sh
# quern-train when the disk fills up or the run is killed, and
# quern-sample writing to a full device.
#
# A full disk without root: the program runs under a file-size limit
# with SIGXFSZ ignored (inherited through exec), so a write past the
# limit fails with EFBIG ("File too large") as one on a full disk fails
# with ENOSPC.  The limit applies to root too; sh's ulimit -f counts
# 512-byte blocks.  A checkpoint of the model here is 9.7 MB (the GPT-2
# vocabulary's embeddings and their two moments), so a 5 MB limit lets
# no checkpoint through and leaves the small files (the manifest, the
# losses on stdout) alone.
#
# Checked: the failed checkpoint is not published under its name, no
# temporary file is left, the earlier checkpoints are unchanged, the
# message names the file, the reason and the checkpoint to resume from,
# the run is marked failed, and resuming from that checkpoint gives the
# losses and weights of a run never interrupted.  SIGKILL at three
# delays (checkpoints every step, so the kill often lands in one; the
# delays are short, as the checkpoints fill the disk at its speed): every
# checkpoint left loads, nothing else is left, the manifest is
# consistent and knows every checkpoint but perhaps the newest, and a
# resume from the newest continues as the uninterrupted run does.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
command -v sqlite3 >/dev/null 2>&1 || skip_all "no sqlite3"
M="--layers 2 --heads 2 --width 16 -B 4 -T 16"

# limited, names and unnamed_files are lib.sh's.  Where the file system
# has no unnamed files, a checkpoint is written as step-NNNNNN.ckpt.tmp.PID,
# which the kill test then lets be.
# losses FILE: "step N/S: loss X" of each step, without the timings.
losses() { sed -n 's/^\(step [0-9]*\/[0-9]*: loss [^ ]*\) .*/\1/p' "$1"; }
last_train() { sql "SELECT $1 FROM runs WHERE tool = 'quern-train' ORDER BY id DESC LIMIT 1"; }
integrity() { sql 'PRAGMA integrity_check'; }
# loads CKPT: the checkpoint reads back whole (header, sizes, checksum).
loads() { quern-sample -c "$1" -t "$TOK" --prompt a -n 1 >/dev/null; }

# ---- a full disk under the checkpoints ----
ok "uninterrupted, 8 steps" quern-train -o ref $M --steps 8 --warmup 2 --val-every 0 \
	--export-llmc ref.bin shards
losses "$T/.out" > ref.losses
ok "the first 4 steps, checkpoints at 2 and 4" quern-train -q -o run $M --steps 8 --warmup 2 \
	--ckpt-every 2 --stop-at 4 --val-every 0 shards
cp run/step-000002.ckpt c2.copy
cp run/step-000004.ckpt c4.copy
fails 1 "resumed under a 5 MB limit, the checkpoint at 6 fails the run" \
	limited 10000 quern-train -o run --resume run/step-000004.ckpt --ckpt-every 2 shards
like "naming it, the reason and the checkpoint to resume from" \
	'^quern-train: run/step-000006\.ckpt: write: File too large; the last checkpoint is run/step-000004\.ckpt \(resume with --resume run/step-000004\.ckpt\)$' \
	"$(err | grep -v 'parameters,')"
is "the checkpoint is not published, no temporary file is left" \
	"step-000002.ckpt step-000004.ckpt" "$(names run)"
ok "the earlier checkpoints are unchanged" sh -c 'cmp -s c2.copy run/step-000002.ckpt && cmp -s c4.copy run/step-000004.ckpt'
is "the run is marked failed" failed "$(last_train status)"
like "with the reason" 'step-000006\.ckpt: write: File too large' "$(last_train error)"
is "the manifest is consistent" ok "$(integrity)"
ok "resume with room" quern-train -o run --resume run/step-000004.ckpt --ckpt-every 2 \
	--export-llmc run.bin shards
losses "$T/.out" > run.losses
is "steps 5 to 8 have the uninterrupted run's losses" "$(sed -n '5,8p' ref.losses)" "$(cat run.losses)"
ok "and it ends with the same weights" cmp ref.bin run.bin
is "with its checkpoints" "step-000002.ckpt step-000004.ckpt step-000006.ckpt step-000008.ckpt" "$(names run)"
is "the run is ok" ok "$(last_train status)"

# A limit that lets nothing through but the manifest (already there):
# the first checkpoint fails a fresh run, which names no checkpoint.
fails 1 "a fresh run under the limit" limited 10000 quern-train -q -o fresh $M --steps 2 --val-every 0 shards
like "fails on its checkpoint" '^quern-train: fresh/step-000002\.ckpt: write: File too large$' "$(err)"
is "and leaves an empty directory" "" "$(names fresh)"
is "the run is marked failed" failed "$(last_train status)"

# ---- killed (SIGKILL) ----
maxn=0
killed=0
whole='^step-[0-9]{6}\.ckpt$'
if ! unnamed_files "$T"; then
	echo "# no O_TMPFILE under $T (or no python3 to ask): a kill may leave step-NNNNNN.ckpt.tmp.PID"
	whole='^step-[0-9]{6}\.ckpt(\.tmp\.[0-9]+)?$'
fi
for delay in 0.3 0.6 1.0; do
	d=kill$delay
	quern-train -q -o $d $M --steps 100000 --warmup 2 --ckpt-every 1 --val-every 0 shards &
	pid=$!
	sleep $delay
	kill -KILL $pid 2>/dev/null
	wait $pid
	is "killed after $delay s" 137 $?
	# shellcheck disable=SC2010
	bad=$(ls -A $d | grep -Ev "$whole" | tr '\n' ' ')
	is "only whole checkpoints are left ($delay s)" "" "$bad"
	is "the manifest is consistent ($delay s)" ok "$(integrity)"
	# shellcheck disable=SC2010
	newest=$(ls $d | grep -E '^step-[0-9]{6}\.ckpt$' | tail -n 1)
	if [ -z "$newest" ]; then
		echo "# killed before the first checkpoint ($delay s)"
		continue
	fi
	killed=$((killed + 1))
	loaded=yes
	for c in $d/step-*.ckpt; do
		loads "$c" || { loaded="no: $c"; break; }
	done
	is "every checkpoint loads ($delay s)" yes "$loaded"
	n=$(echo "$newest" | sed 's/^step-0*\([0-9][0-9]*\)\.ckpt$/\1/')
	# Every checkpoint but perhaps the newest (killed before it was
	# recorded) is in the manifest.
	rec=$(sql "SELECT count(*) FROM checkpoints c JOIN files f ON f.id = c.file WHERE f.path LIKE '%/$d/step-%' AND c.step < $n")
	is "the manifest records the checkpoints before step $n ($delay s)" $((n - 1)) "$rec"
	ok "resume from step $n, 2 more steps" quern-train -o $d --resume $d/$newest --stop-at $((n + 2)) shards
	losses "$T/.out" > $d.losses
	is "2 steps" 2 "$(wc -l < $d.losses | tr -d ' ')"
	[ $n -gt $maxn ] && maxn=$n
	echo "$d $n" >> resumed
	rm -rf $d
done
echo "# a checkpoint was there to resume in $killed of 3 runs"
if [ -f resumed ]; then
	ok "uninterrupted, $((maxn + 2)) steps" quern-train -o kref $M --steps 100000 --warmup 2 \
		--stop-at $((maxn + 2)) --val-every 0 shards
	losses "$T/.out" > kref.losses
	while read -r d n; do
		is "after the kill at $d, steps $((n + 1)) and $((n + 2)) are the uninterrupted run's" \
			"$(sed -n "$((n + 1)),$((n + 2))p" kref.losses)" "$(cat $d.losses)"
	done < resumed
else
	ok "a rerun after the kills" quern-train -q -o again $M --steps 2 --val-every 0 shards
fi
is "the manifest is consistent at the end" ok "$(integrity)"

# ---- quern-sample on a full device ----
if [ -w /dev/full ]; then
	fails 1 "quern-sample to /dev/full" sh -c "quern-sample -c run/step-000008.ckpt -t '$TOK' --prompt a -n 5 > /dev/full"
	is "says so, once" "quern-sample: write error on standard output: No space left on device" "$(err)"
	is "and its run is failed" "failed|write error on standard output: No space left on device" \
		"$(sql "SELECT status, error FROM runs WHERE tool = 'quern-sample' ORDER BY id DESC LIMIT 1")"
else
	skip "quern-sample to /dev/full" "no /dev/full"
fi
done_testing

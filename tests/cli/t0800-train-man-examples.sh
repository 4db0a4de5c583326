#!/bin/sh
# The EXAMPLES of quern-train(1), run as the page prints them on shards
# of real text, then what the page says they do: 20 steps straight and
# 10 + resume + 10 give the same losses and the same bytes of weights
# and moments; the snapshot is verified and a changed shard refuses it;
# accumulation; the llm.c export; lineage back to the sources; metrics.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
command -v sqlite3 >/dev/null 2>&1 || skip_all "no sqlite3"

# The command lines of the page's EXAMPLES, continuation lines joined.
awk '
	/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
	ex && /^\.Bd -literal/ { lit = 1; next }
	lit && /^\.Ed/ { lit = 0; next }
	lit { print }
' "$SRC/man/quern-train.1" |
	sed -e 's/\\-/-/g' -e 's/\\e/\\/g' |
	awk '/\\$/ { sub(/ *\\$/, ""); buf = buf $0 " "; next }
	     { print buf $0; buf = "" }' |
	sed -e 's/  */ /g' -n -e 's/^\$ //p' > "$T/.cmds"

# ex N COMMAND: COMMAND is the page's example N (as printed); runs it and
# keeps its stdout in ex.N.
ex() {
	is "example $1 is in the page" "$2" "$(sed -n "$1p" "$T/.cmds")"
	ok "example $1: $2" sh -c "$2"
	cp "$T/.out" "$T/ex.$1"
}
losses() { sed -n 's/^step \([0-9]*\)\/[0-9]*: loss \([^ ]*\).*/\1 \2/p' "$@"; }
# The weights and moments of a checkpoint: its bytes between the JSON and the checksum.
state() {
	jl=$(od -An -tu4 -j244 -N4 "$1" | tr -d ' ')
	np=$(od -An -tu8 -j236 -N8 "$1" | tr -d ' ')
	tail -c +$((248 + jl + 1)) "$1" | head -c $((12 * np))
}

ex 1 "quern-train -o ckpt --layers 2 --heads 2 --width 32 -B 4 -T 16 --steps 20 --val-every 10 shards"
ok "the final checkpoint is written" test -s ckpt/step-000020.ckpt
is "20 steps" 20 "$(losses ex.1 | wc -l | tr -d ' ')"
is "two validation losses" 2 "$(grep -c 'val_loss' ex.1)"
first=$(losses ex.1 | head -n 1 | cut -d' ' -f2)
last=$(losses ex.1 | tail -n 5 | awk '{ s += $2 } END { printf "%.4f", s / NR }')
like "the loss starts near ln(50257) = 10.8" '^10\.[6-9]|^11\.0' "$first"
ok "the loss goes down ($first, last five steps' mean $last)" \
	awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'

ex 2 "quern-train -o half --layers 2 --heads 2 --width 32 -B 4 -T 16 --steps 20 --val-every 10 --stop-at 10 shards"
ok "stopped at step 10 with a checkpoint" test -s half/step-000010.ckpt
ok "and nothing past it" test ! -e half/step-000020.ckpt
ex 3 "quern-train -o half --resume half/step-000010.ckpt shards"
is "10 + resume + 10: the same 20 losses as 20 straight" \
	"$(losses ex.1)" "$(losses ex.2 ex.3)"
is "and the same validation losses" "$(grep -h val_loss ex.1)" "$(grep -h val_loss ex.2 ex.3)"
state ckpt/step-000020.ckpt > s.straight
state half/step-000020.ckpt > s.resumed
ok "and the same weight and moment bytes ($(wc -c < s.straight) bytes)" cmp s.straight s.resumed
ok "the checkpoints differ only in the recorded configuration" \
	sh -c '! cmp -s ckpt/step-000020.ckpt half/step-000020.ckpt'

ex 4 "quern-manifest tag corpus-v1 shards/*.bin shards/*.qidx"
ex 5 "quern-train -o snap --snapshot corpus-v1 --layers 2 --heads 2 --width 32 -B 4 -T 16 --batch-tokens 256 --steps 5 --export-llmc model.bin"
like "four micro-batches a step" '4 x 16 x 4 tokens a step' "$(cat "$T/.err")"
is "5 steps" 5 "$(losses ex.5 | wc -l | tr -d ' ')"
np=$(od -An -tu8 -j236 -N8 snap/step-000005.ckpt | tr -d ' ')
is "the llm.c file: 1024 header bytes and the weights" $((1024 + 4 * np)) "$(wc -c < model.bin | tr -d ' ')"
is "with llm.c's magic and version" "20240326 3" "$(od -An -td4 -N8 model.bin | awk '{ print $1, $2 }')"
is "the training row names the snapshot" "corpus-v1" \
	"$(sql "SELECT tag FROM train_runs ORDER BY run DESC LIMIT 1")"

# The snapshot refuses a changed shard.
cp shards/train_000000.bin saved.bin
printf 'x' | dd of=shards/train_000000.bin bs=1 seek=2000 conv=notrunc 2>/dev/null
fails 1 "a changed shard stops a snapshot run before it starts" \
	quern-train -o snap2 --snapshot corpus-v1 --layers 2 --heads 2 --width 32 -B 4 -T 16 --steps 1
like "naming the file" 'train_000000.bin.*changed' "$(err)"
ok "and writes nothing" test ! -e snap2/step-000001.ckpt
cp saved.bin shards/train_000000.bin

ex 6 "quern-manifest lineage ckpt/step-000020.ckpt"
like "lineage reaches the shards" 'train_000000\.bin' "$(cat ex.6)"
if [ "$SHARDS_BY" = quern-shard ]; then
	like "and the collected fortune files" 'src/01-0000\.txt' "$(cat ex.6)"
else
	skip "lineage to the fortune files" "shards made by the test writer, not quern-shard"
fi
ex 7 "sqlite3 quern.db \"SELECT step, value FROM train_metrics WHERE name = 'loss' ORDER BY run, step\""
is "the losses of all runs are recorded (20 + 10 + 10 + 5)" 45 "$(wc -l < ex.7 | tr -d ' ')"
is "every metric of each step" "grad_norm loss lr tokens_per_s val_loss" \
	"$(sql "SELECT DISTINCT name FROM train_metrics ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"
is "each checkpoint recorded (1 + 2 + 1)" 4 "$(sql "SELECT count(*) FROM checkpoints")"
is "the runs ended ok" "ok ok ok ok" \
	"$(sql "SELECT status FROM runs WHERE tool = 'quern-train' AND status != 'failed' ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
is "every example of the page ran" "$(wc -l < "$T/.cmds" | tr -d ' ')" 7
done_testing

#!/bin/sh
# quern-train at its edges: usage errors (--device: t0802), corrupt and
# foreign checkpoints, options that --resume refuses, SIGTERM (a
# checkpoint, a failed run that names it, and a resume that finishes),
# --init-from-llmc (the exported weights come back unchanged), and the
# reference path computing what the fast path does.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
command -v sqlite3 >/dev/null 2>&1 || skip_all "no sqlite3"
M="--layers 2 --heads 2 --width 32 -B 4 -T 16"

fails 2 "no output directory" quern-train $M shards
fails 2 "no data" quern-train -o c $M
fails 2 "both a directory and a snapshot" quern-train -o c --snapshot x $M shards
fails 2 "heads that do not divide the width" quern-train -o c --layers 2 --heads 3 --width 32 shards
like "says so" 'multiple of n_head|heads' "$(err)"
fails 2 "a batch that is not a multiple of B*T" quern-train -o c $M --batch-tokens 100 shards
fails 2 "-T past the context" quern-train -o c $M --context 8 shards
fails 2 "warmup past the run" quern-train -o c $M --steps 5 --warmup 6 shards
fails 2 "a negative learning rate" quern-train -o c $M --lr -1 shards
fails 2 "an unknown device" quern-train -o c $M --device tpu shards
fails 1 "a missing shard directory" quern-train -o c $M nothere
fails 1 "an unknown snapshot" quern-train -o c $M --snapshot nope
like "names the tag" "nope" "$(err)"
ok "--help" quern-train --help
like "--help lists --resume" '--resume CKPT' "$(out)"

# A first run, stopped by SIGTERM after some steps.
quern-train -o sig $M --steps 100000 --warmup 2 --val-every 0 shards > sig.out 2> sig.err &
pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q '^step 3/' sig.out 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid
wait $pid
is "SIGTERM: exit 1" 1 $?
n=$(sed -n 's/^step \([0-9]*\)\/.*/\1/p' sig.out | tail -n 1)
ck=$(printf 'sig/step-%06d.ckpt' "$n")
ok "a checkpoint of the last step ($n)" test -s "$ck"
like "stderr says how to resume" "resume with --resume $ck" "$(cat sig.err)"
is "the run is failed, with the reason" "failed" \
	"$(sql "SELECT status FROM runs WHERE tool = 'quern-train' ORDER BY id DESC LIMIT 1")"
like "the reason names the checkpoint" "$ck" \
	"$(sql "SELECT error FROM runs WHERE tool = 'quern-train' ORDER BY id DESC LIMIT 1" 2>&1)"
ok "the checkpoint is recorded" test "$(sql "SELECT count(*) FROM checkpoints c JOIN files f ON f.id = c.file WHERE f.path LIKE '%$ck'")" = 1
ok "resume it, shortened to 2 more steps" quern-train -q -o sig --resume "$ck" --steps $((n + 2)) shards
ok "and it finishes" test -s "$(printf 'sig/step-%06d.ckpt' $((n + 2)))"

fails 2 "--resume refuses model options" quern-train -o sig --resume "$ck" --layers 3 shards
fails 2 "--resume refuses optimisation options" quern-train -o sig --resume "$ck" --lr 1 shards
fails 2 "--steps before the checkpoint's step" quern-train -o sig --resume "$ck" --steps 1 shards

touch afile
fails 1 "-o naming a file" quern-train -o afile $M --steps 1 shards
like "says so" 'afile: not a directory' "$(err)"

# Shards of another tokenizer cannot continue a checkpoint.
CL=${QN_PEERS}/tiktoken/encoders/cl100k_base.json
if [ -x "${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" ] && [ -f "$CL" ]; then
	"${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" "$CL" clshards 100000 "$FORT/science"
	fails 1 "shards of another tokenizer" quern-train -o sig --resume "$ck" clshards
	like "names both hashes" 'trained with tokenizer [0-9a-f]{32}, the shards have [0-9a-f]{32}' "$(err)"
else
	skip "shards of another tokenizer" "no cl100k_base.json or no tests/trainer-mkshards"
fi

# Corrupt and foreign checkpoints.
cp "$ck" bad.ckpt
printf 'z' | dd of=bad.ckpt bs=1 seek=5000 conv=notrunc 2>/dev/null
fails 1 "a corrupt checkpoint" quern-train -o r --resume bad.ckpt shards
like "is named, with the reason" 'bad.ckpt: checksum' "$(err)"
head -c 1000 "$ck" > short.ckpt
fails 1 "a truncated checkpoint" quern-train -o r --resume short.ckpt shards
like "says truncated" 'short.ckpt: truncated' "$(err)"
fails 1 "a shard is not a checkpoint" quern-train -o r --resume shards/train_000000.bin shards
like "bad magic" 'not a quern checkpoint' "$(err)"

# --init-from-llmc: export, re-import, and one step at lr 0 changes nothing.
ok "export" quern-train -q -o e $M --steps 2 --export-llmc e.bin shards
ok "import, one step at lr 0" quern-train -q -o e2 --steps 1 -B 4 -T 16 --lr 0 --init-from-llmc e.bin --export-llmc e2.bin shards
ok "the weights come back byte for byte" cmp e.bin e2.bin
fails 2 "--init-from-llmc takes the shape from the file" quern-train -o e3 --layers 3 --init-from-llmc e.bin shards
fails 1 "a checkpoint is not an llm.c file" quern-train -o e3 --init-from-llmc "$ck" shards
like "says so" 'not an llm.c model file' "$(err)"

# The reference path computes what the fast path does (to rounding).
ok "fast, 3 steps" quern-train -o f $M --steps 3 --val-every 0 shards
cp "$T/.out" fast.out
ok "reference, 3 steps" quern-train -o g $M --steps 3 --val-every 0 --reference shards
paste -d' ' fast.out "$T/.out" | awk '/^step/ { d = $4 - $16; if (d < 0) d = -d; if (d > m) m = d } END { print m + 0 }' > diff.txt
ok "the losses agree within 1e-4 (largest difference $(cat diff.txt))" awk 'NR == 1 { exit !($1 < 1e-4) }' diff.txt
# Accumulation: two micro-batches of 4 make the step one batch of 8 makes
# (the same windows in order), to rounding.
ok "B=4, 128 tokens a step" quern-train -o acc1 -B 4 -T 16 --layers 2 --heads 2 --width 32 \
	--batch-tokens 128 --steps 4 --val-every 0 --no-shuffle shards
sed -n 's/^step [0-9]*\/4: loss \([^ ]*\) lr [^ ]* norm \([^ ]*\).*/\1 \2/p' "$T/.out" > acc1.txt
ok "B=8, 128 tokens a step" quern-train -o acc2 -B 8 -T 16 --layers 2 --heads 2 --width 32 \
	--steps 4 --val-every 0 --no-shuffle shards
sed -n 's/^step [0-9]*\/4: loss \([^ ]*\) lr [^ ]* norm \([^ ]*\).*/\1 \2/p' "$T/.out" > acc2.txt
is "4 steps each" "4 4" "$(wc -l < acc1.txt | tr -d ' ') $(wc -l < acc2.txt | tr -d ' ')"
ok "the same losses and gradient norms within 1e-5" sh -c \
	"paste -d' ' acc1.txt acc2.txt | awk '{ if (\$1 - \$3 > 1e-5 || \$3 - \$1 > 1e-5 || \$2 - \$4 > 1e-5 || \$4 - \$2 > 1e-5) bad = 1 } END { exit bad }'"

# Weight decay is decoupled and only on matrices and embeddings: from the
# same start, one step with decay 10 differs from one without by exactly
# -lr*wd*p0 on wpe and qkvw, and not at all on LayerNorm weights and the
# qkv bias.  (Offsets in the llm.c file: Vp = 50304, C = 32, maxT = 16, L = 2.)
S1="-B 4 -T 16 --steps 1 --val-every 0 -q"
ok "the start" quern-train -o w0 --layers 2 --heads 2 --width 32 $S1 --lr 0 --export-llmc p0.bin shards
ok "a step without decay" quern-train -o w1 $S1 --init-from-llmc p0.bin --lr 0.01 --min-lr 0.01 --weight-decay 0 --export-llmc p1.bin shards
ok "a step with decay 10" quern-train -o w2 $S1 --init-from-llmc p0.bin --lr 0.01 --min-lr 0.01 --weight-decay 10 --export-llmc p2.bin shards
floats() { od -An -v -tf4 -j "$2" -N 256 "$1" | tr -s ' ' '\n' | sed '/^$/d'; }
WPE=$((1024 + 4 * 50304 * 32)); LN1W=$((WPE + 4 * 16 * 32)); QKVW=$((LN1W + 4 * 2 * 2 * 32))
QKVB=$((QKVW + 4 * 2 * 96 * 32))
for t in WPE QKVW; do
	eval off=\$$t
	floats p0.bin $off > f.a; floats p1.bin $off > f.b; floats p2.bin $off > f.c
	paste f.a f.b f.c | awk '{ d = ($3 - $2) + 0.1 * $1; if (d < 0) d = -d; if (d > m) m = d } END { print m + 0 }' > worst
	ok "$t is decayed by lr*wd*p (worst error $(cat worst))" awk 'NR == 1 { exit !($1 < 1e-6) }' worst
done
for t in LN1W QKVB; do
	eval off=\$$t
	floats p1.bin $off > f.b; floats p2.bin $off > f.c
	ok "$t is not decayed" cmp -s f.b f.c
done

# --ckpt-every: a checkpoint every N steps and one at the end.
ok "--ckpt-every 2 over 5 steps" quern-train -q -o every $M --steps 5 --ckpt-every 2 --val-every 0 shards
is "steps 2, 4 and the end" "step-000002.ckpt step-000004.ckpt step-000005.ckpt" "$(ls every | tr '\n' ' ' | sed 's/ $//')"
is "each recorded with its step" "2 4 5" \
	"$(sql "SELECT step FROM checkpoints WHERE run = (SELECT max(id) FROM runs WHERE tool = 'quern-train') ORDER BY step" | tr '\n' ' ' | sed 's/ $//')"

# Shards without a val split: training goes on, without validation.
mkdir trainonly
cp shards/train_* trainonly/
ok "a directory without val shards" quern-train -o to $M --steps 2 --val-every 1 trainonly
is "no validation loss" 0 "$(grep -c val_loss "$T/.out")"
mkdir noshards
fails 1 "a directory without train shards" quern-train -o to2 $M --steps 2 noshards
like "says so" 'no train shard' "$(err)"

# Any thread count, the same bytes; a resume may change it.
ok "-j 1, 4 steps" quern-train -q -j 1 -o j1 $M --steps 4 --val-every 0 --export-llmc j1.bin shards
ok "-j 2, 2 steps" quern-train -q -j 2 -o j2 $M --steps 4 --stop-at 2 --val-every 0 shards
ok "then -j 1, 2 more" quern-train -q -j 1 -o j2 --resume j2/step-000002.ckpt --export-llmc j2.bin shards
ok "the same weights for any thread count" cmp j1.bin j2.bin
fails 2 "-j that is not a number" quern-train -j x -o j3 $M shards
done_testing

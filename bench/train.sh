#!/bin/sh
# bench/train.sh: quern-train end to end (the shard loader, forward,
# backward, clipping, AdamW, the manifest's per-step rows) on issue 7's
# shape, L=4 heads=4 width=128 T=64 B=4 with GPT-2's vocabulary (50257),
# beside bench/model-bench's forward + backward + AdamW alone on the same
# shape in the same run: the ratio is what the trainer costs around the
# model.  Also quern-sample's tokens per second with the KV cache.
#
# Run from the build directory by make bench (the test-only shard writer
# tests/trainer-mkshards is made here when missing).  Needs npm's
# tiktoken (tests/peers) for the GPT-2 tokenizer and the fortunes.
#
#   QN_BENCH_STEPS  steps timed (default 20)
#
# Wall times on a shared machine measure the other work too: so that a
# slow or busy machine can be told from a slow trainer, the run measures a
# plain 1024^2 sgemm on OpenBLAS's threads before and after quern-train
# (issue 7 quotes 165-200 GFLOP/s for its machine) and prints, beside the
# measured ms/step, an estimate scaled to 165 GFLOP/s (ms/step x measured
# / 165, as if every part of the step were slowed alike: a guide only).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
steps=${QN_BENCH_STEPS:-20}
tok=$top/tests/peers/node_modules/tiktoken/encoders/gpt2.json
: "${OMP_WAIT_POLICY:=passive}"
export OMP_WAIT_POLICY
[ -x "$build/tests/trainer-mkshards" ] || make -s -C "$build" tests/trainer-mkshards >/dev/null
for f in "$build/quern-train" "$build/quern-sample" "$build/bench/model-bench" "$build/tests/trainer-mkshards" "$tok"; do
	[ -e "$f" ] || { echo "bench/train.sh: $f is missing"; exit 1; }
done
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
dir=$(mktemp -d "${TMPDIR:-/tmp}/quern-bench-train.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$build/tests/trainer-mkshards" "$tok" "$dir/shards" 1000000 /usr/share/games/fortunes/* 2>/dev/null ||
	"$build/tests/trainer-mkshards" "$tok" "$dir/shards" 1000000 /usr/share/games/fortunes/computers

# median of the step times (ms), the first two steps left out
median() { sed -n 's/^step [0-9]*\/[0-9]*: loss .* \([0-9.]*\) ms .*/\1/p' | tail -n +3 | sort -n |
	awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

sgemm_rate() { "$build/bench/model-bench" sgemm 1024 | sed -n 's/.*[ ]sgemm_gflops=\([0-9.]*\).*/\1/p'; }

echo "== quern-train, L=4 heads=4 width=128 T=64 B=4 vocab=50257, $steps steps"
g0=$(sgemm_rate)
QUERN_MANIFEST="$dir/quern.db" "$build/quern-train" -o "$dir/ck" --layers 4 --heads 4 --width 128 \
	-B 4 -T 64 --steps $((steps + 2)) --val-every 0 "$dir/shards" > "$dir/train.out" 2> "$dir/train.err"
train_ms=$(median < "$dir/train.out")
g1=$(sgemm_rate)
echo "  quern-train: $train_ms ms/step (median), $(awk -v m="$train_ms" 'BEGIN { printf "%.0f", 256 / m * 1000 }') tokens/s"
model=$("$build/bench/model-bench" 4 4 128 64 4 50257 "$steps")
model_ms=$(echo "$model" | sed -n 's/.*[ ]ms_per_step=\([0-9.]*\).*/\1/p')
echo "  model-bench (forward, backward, AdamW): $model_ms ms/step"
floor=$(echo "$model" | sed -n 's/.*[ ]sgemm_ms_per_step=\([0-9.]*\).*/\1/p')
echo "  of which the sgemm calls alone: $floor ms/step at best (their CPU time split over the threads; goal 90 ms/step)"
awk -v t="$train_ms" -v m="$model_ms" 'BEGIN {
	printf "  the trainer around the model: %.1f%% of a step (ratio %.2f)\n", 100 * (t - m) / t, t / m }'
awk -v t="$train_ms" -v g0="$g0" -v g1="$g1" 'BEGIN {
	g = (g0 + g1) / 2
	printf "  this machine now: 1024^2 sgemm %.0f GFLOP/s before quern-train, %.0f after (issue 7: 165-200)\n", g0, g1
	printf "  quern-train: %.1f ms/step measured; %.1f ms/step estimated at 165 GFLOP/s (x %.0f/165)\n", t, t * g / 165, g
	printf "  quern-train vs llm.c (274 ms/step): %.2fx measured, %.2fx estimated at 165 GFLOP/s (goal 3x: 90 ms/step)\n", 274 / t, 274 / (t * g / 165) }'

echo "== quern-sample with the KV cache, to the end of the context (64)"
ck=$(ls "$dir"/ck/*.ckpt | tail -n 1)
s0=$(date +%s.%N)
QUERN_MANIFEST="$dir/quern.db" "$build/quern-sample" -c "$ck" -t "$tok" --prompt "The" -n 200 --no-stop > /dev/null
s1=$(date +%s.%N)
n=$(sqlite3 -batch -noheader "$dir/quern.db" "SELECT counters FROM runs WHERE tool = 'quern-sample'" |
	sed -n 's/.*"tokens":\([0-9]*\).*/\1/p')
awk -v a="$s0" -v b="$s1" -v n="$n" 'BEGIN {
	printf "  %d tokens: %.1f ms/token, %.0f tokens/s (loading the model included)\n", n, (b - a) * 1000 / n, n / (b - a) }'

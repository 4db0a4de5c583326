#!/bin/sh
# bench/model.sh: training-step speed of the CPU model (forward, backward
# and AdamW, fast path) beside PyTorch's CPU build on the same model, in
# one run; and the ratio to llm.c's CPU trainer, whose 274 ms/step
# (936 tokens/s) on this config and 2-core machine is issue 7's figure
# (llm.c is not packaged, so it is not run here).
#
# Two shapes: issue 7's (L=4, heads=4, width=128, T=64, B=4, vocab 50257)
# and GPT-2 124M's layers (L=12, heads=12, width=768) on the same batch.
# Run from the build directory after `make bench/model-bench` (make bench
# does both).
#
#   QN_BENCH_STEPS  steps timed on the small shape (default 20; 124M: 2)
#   TORCH_PYTHON    the Python with torch (default /usr/bin/python3)
#
# On a machine shared with other work, wall times measure the others too;
# both programs also print their CPU time per step.  OMP_WAIT_POLICY=passive
# is set for both unless given: spinning OpenMP threads on busy cores cost
# several times their work.  So that a slow or busy machine can be told
# from a slow model, the run also measures a plain 1024^2 sgemm on
# OpenBLAS's threads before and after the small shape (issue 7 quotes
# 165-200 GFLOP/s for its machine) and prints, beside the measured
# ms/step, an estimate scaled to 165 GFLOP/s (ms/step x measured / 165:
# as if every part of the step were slowed alike, which is only roughly
# so; the measured figure is the result, the estimate a guide).  Two
# more lines bound the step from below: the CPU time of its own sgemm
# calls split over the threads (model-bench's floor), and the output
# projection's three products run alone, one whole sgemm each on
# OpenBLAS's threads (model-bench head), beside a 2048^2 sgemm's rate.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
steps=${QN_BENCH_STEPS:-20}
py=${TORCH_PYTHON:-/usr/bin/python3}
: "${OMP_WAIT_POLICY:=passive}"
export OMP_WAIT_POLICY
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
have_torch=no
"$py" -c 'import torch' 2>/dev/null && have_torch=yes

field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p"; }

run() {	# L heads width T B vocab steps
	out=$("$build/bench/model-bench" "$@")
	echo "$out" | grep -v '^RESULT'
	ms=$(echo "$out" | field ms_per_step)
	cpu=$(echo "$out" | field cpu_ms_per_step)
	if [ $have_torch = yes ]; then
		tout=$("$py" "$top/bench/model-torch.py" "$@")
		echo "  $(echo "$tout" | grep -v '^RESULT')"
		tms=$(echo "$tout" | field ms_per_step)
		tcpu=$(echo "$tout" | field cpu_ms_per_step)
		awk -v a="$ms" -v b="$tms" -v c="$cpu" -v d="$tcpu" 'BEGIN {
			printf "  quern vs pytorch: %.2fx faster by wall time, %.2fx by CPU time\n", b / a, d / c }'
	else
		echo "  (pytorch skipped: $py cannot import torch)"
	fi
}

sgemm_rate() { "$build/bench/model-bench" sgemm 1024 | field sgemm_gflops; }

echo "== issue 7's shape: L=4 heads=4 width=128 T=64 B=4 vocab=50257"
g0=$(sgemm_rate)
run 4 4 128 64 4 50257 "$steps"
g1=$(sgemm_rate)
floor=$(echo "$out" | field sgemm_ms_per_step)
g2=$("$build/bench/model-bench" sgemm 2048 | field sgemm_gflops)
hout=$("$build/bench/model-bench" head 256 128 50257)
echo "$hout" | grep -v '^RESULT' | sed 's/^/  /'
threads=$("$build/bench/model-bench" 1 1 8 1 1 1 0 | sed -n 's/.*fast, \([0-9]*\) thread.*/\1/p')
awk -v a="$ms" -v c="$cpu" -v n="$threads" -v g0="$g0" -v g1="$g1" -v f="$floor" -v g2="$g2" 'BEGIN {
	g = (g0 + g1) / 2
	printf "  this machine now: 1024^2 sgemm %.0f GFLOP/s before, %.0f after (issue 7: 165-200)\n", g0, g1
	printf "  quern: %.1f ms/step measured; %.1f ms/step estimated at 165 GFLOP/s (x %.0f/165)\n", a, a * g / 165, g
	printf "  quern vs llm.c (274 ms/step, 936 tokens/s): %.2fx by wall time, %.2fx by CPU time per thread, %.2fx estimated at 165 GFLOP/s (goal 3x: 90 ms/step)\n", 274 / a, 274 / (c / n), 274 / (a * g / 165)
	printf "  the floor: the step'"'"'s sgemm calls alone take %.1f ms/step on %d threads at best (2048^2 sgemm: %.0f GFLOP/s), leaving %.1f ms of the goal'"'"'s 90 for everything else\n", f, n, g2, 90 - f }'

echo "== GPT-2 124M's layers: L=12 heads=12 width=768 T=64 B=4 vocab=50257"
run 12 12 768 64 4 50257 2

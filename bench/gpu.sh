#!/bin/sh
# bench/gpu.sh: the GPU path in one run on the device machine: build,
# check every kernel against the CPU reference, compare 20 training steps
# on CPU and GPU, then benchmark GPT-2 124M (T = 1024, the largest batch
# that fits) against the same model in PyTorch, and print a table last.
#
#	bench/gpu.sh [--prep] [--build-only] [--quick]
#
# The device machine has CUDA (nvcc, cuBLAS) and PyTorch but none of
# Debian's -dev libraries, so nothing here uses configure or libquern:
# nvcc builds model/cuda/*.cu, cc the tests and the bench driver, and the
# CPU model (model/gpt.c, ops_ref.c, ops_fast.c, lib/err.c) is built
# against the OpenBLAS found there or, where there is none, taken from
# .gpu-carry/qnhost.o: one relocatable object holding the CPU model and
# the OpenBLAS routines it uses, which `bench/gpu.sh --prep` makes on a
# machine that has OpenBLAS (and marks ignored, so the device tool can
# carry it: run(command="bench/gpu.sh", carry=[".gpu-carry"])).
#
#	--prep        make .gpu-carry/qnhost.o here, then stop
#	--build-only  build, then stop
#	--quick       a short benchmark (fewer steps)
#
# Environment: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc),
# CUDA_DIR (its lib64 is linked), QN_CUDA_ARCHS (default "80 90"),
# TORCH_PYTHON (default python3), QN_GPU_BUILD (build folder, default
# /tmp/quern-gpu), OUT (if set, the logs are copied there).
#
# Exit: 0 when every check passed, 1 on a failed check or build, 77
# where there is no GPU (after building).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bld=${QN_GPU_BUILD:-/tmp/quern-gpu}
carry=$top/.gpu-carry
prep=0 build_only=0 quick=0
for a in "$@"; do
	case $a in
	--prep) prep=1 ;;
	--build-only) build_only=1 ;;
	--quick) quick=1 ;;
	*) echo "usage: bench/gpu.sh [--prep] [--build-only] [--quick]" >&2; exit 2 ;;
	esac
done
CC=${CC:-cc}
CFLAGS="-O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"
MODEL_CFLAGS="-fopenmp -ffp-contract=off -fno-math-errno -ftree-vectorize"
INC="-I$top/lib -I$top/model"
say() { printf '%s\n' "gpu.sh: $*" >&2; }
die() { say "$*"; exit 1; }

mkdir -p "$bld" || die "cannot make $bld"
cd "$bld" || exit 1

have_cblas() {
	printf '#include <cblas.h>\nint main(void){return 0;}\n' >cblas-probe.c
	$CC -c cblas-probe.c -o cblas-probe.o 2>/dev/null
}

# The CPU model and its OpenBLAS routines, as one object.
host_objects() {
	for f in model/gpt.c model/ops_ref.c model/ops_fast.c lib/err.c; do
		$CC $CFLAGS $MODEL_CFLAGS $INC -c "$top/$f" -o "host-$(basename "$f" .c).o" || return 1
	done
}

if [ $prep = 1 ]; then
	have_cblas || die "--prep needs OpenBLAS (cblas.h, libopenblas.a) on this machine"
	host_objects || die "the CPU model does not compile"
	blas=$($CC -print-file-name=libopenblas.a)
	[ -f "$blas" ] || die "no libopenblas.a"
	mkdir -p "$carry" && ld -r -o "$carry/qnhost.o" host-gpt.o host-ops_ref.o host-ops_fast.o host-err.o "$blas" ||
		die "ld -r failed"
	ex=$(git -C "$top" rev-parse --git-path info/exclude 2>/dev/null) &&
		case $ex in /*) ;; *) ex=$top/$ex ;; esac &&
		{ grep -qx '/.gpu-carry/' "$ex" 2>/dev/null || echo '/.gpu-carry/' >>"$ex"; }
	say "made $carry/qnhost.o ($(du -h "$carry/qnhost.o" | cut -f1)); carry .gpu-carry to the device"
	exit 0
fi

# ---- build ----
if [ -z "${NVCC:-}" ]; then
	NVCC=$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
fi
[ -x "$NVCC" ] || die "no nvcc (set NVCC)"
CUDA_DIR=${CUDA_DIR:-$(cd "$(dirname "$NVCC")/.." && pwd)}
archs=${QN_CUDA_ARCHS:-80 90}
gencode=
for a in $archs; do gencode="$gencode -gencode arch=compute_$a,code=sm_$a"; done
NVFLAGS="-O3 -std=c++17 $gencode -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror"

say "building in $bld with $NVCC ($($NVCC --version | tail -1)), sm: $archs"
pids=
for f in kernels attention gpt_cuda ops_check; do
	$NVCC $NVFLAGS $INC -I"$CUDA_DIR/include" -c "$top/model/cuda/$f.cu" -o "cuda-$f.o" &
	pids="$pids $!"
done
for f in tests/unit/t_cuda_ops tests/unit/t_cuda_train bench/gpu-bench; do
	$CC $CFLAGS -Werror $INC -c "$top/$f.c" -o "$(basename "$f").o" &
	pids="$pids $!"
done
if have_cblas; then
	host_objects || die "the CPU model does not compile"
	host="host-gpt.o host-ops_ref.o host-ops_fast.o host-err.o"
	blaslib=-lopenblas
	say "CPU model: built here with OpenBLAS"
elif [ -f "$carry/qnhost.o" ]; then
	host="$carry/qnhost.o"
	blaslib=
	for f in model/gpt.c model/gpt_pass.h model/ops.h model/ops_ref.c model/ops_fast.c model/gpt.h; do
		[ "$top/$f" -nt "$host" ] && say "warning: $f is newer than $host: run --prep again"
	done
	say "CPU model: the carried $host"
else
	die "no OpenBLAS here and no .gpu-carry/qnhost.o: run bench/gpu.sh --prep where OpenBLAS is, and carry .gpu-carry"
fi
for p in $pids; do wait "$p" || die "a compile step failed"; done
LIBS="-L$CUDA_DIR/lib64 -Wl,-rpath,$CUDA_DIR/lib64 -lcublasLt -lcublas -lcudart $blaslib -lgomp -lpthread -lm -lstdc++"
CUOBJ="cuda-kernels.o cuda-attention.o cuda-gpt_cuda.o cuda-ops_check.o"
for p in t_cuda_ops t_cuda_train gpu-bench; do
	$CC -o "$p" "$p.o" $CUOBJ $host $LIBS || die "linking $p failed"
done
say "built t_cuda_ops t_cuda_train gpu-bench"
[ $build_only = 1 ] && exit 0

# ---- checks ----
log=$bld/log
mkdir -p "$log"
save() { [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$log"/*.txt "$OUT"/ 2>/dev/null; return 0; }
./t_cuda_ops >"$log/kernels.txt" 2>&1
rc=$?
if [ $rc = 77 ]; then
	say "no GPU: built, checks and benchmark skipped"
	exit 77
fi
cat "$log/kernels.txt"
k_ok=$(grep -c '^ok' "$log/kernels.txt")
k_bad=$(grep -c '^not ok' "$log/kernels.txt")
[ $rc = 0 ] && [ "$k_bad" = 0 ] || k_bad="$k_bad (exit $rc)"
QN_TOP_SRCDIR=$top ./t_cuda_train >"$log/train.txt" 2>&1
trc=$?
cat "$log/train.txt"
t_ok=$(grep -c '^ok' "$log/train.txt")
t_bad=$(grep -c '^not ok' "$log/train.txt")
[ $trc = 0 ] && [ "$t_bad" = 0 ] || t_bad="$t_bad (exit $trc)"

# ---- benchmark ----
steps=20
[ $quick = 1 ] && steps=5
./gpu-bench -s $steps -w 3 2>&1 | tee "$log/quern.txt"
qline=$(grep '^quern:' "$log/quern.txt")
./gpu-bench -s $steps -w 3 -a flash 2>&1 | tee "$log/quern-flash.txt"
fline=$(grep '^quern-flash:' "$log/quern-flash.txt")
qb=$(printf '%s\n' "$qline" | sed -n 's/.*B=\([0-9]*\).*/\1/p')
${TORCH_PYTHON:-python3} "$top/bench/gpu-torch.py" -s $steps -w 3 ${qb:+-B $qb} 2>&1 | tee "$log/torch.txt"
tline=$(grep '^torch:' "$log/torch.txt")
if [ -z "$tline" ] && [ -n "$qb" ]; then	# the same batch did not fit PyTorch: let it choose
	${TORCH_PYTHON:-python3} "$top/bench/gpu-torch.py" -s $steps -w 3 2>&1 | tee "$log/torch.txt"
	tline=$(grep '^torch:' "$log/torch.txt")
fi
save

# ---- the table ----
{
	echo
	echo "== GPU path: $(grep -m1 '^# ' "$log/kernels.txt" | cut -c3-)"
	echo "kernel checks (t_cuda_ops):        $k_ok ok, $k_bad not ok"
	echo "CPU vs GPU training (t_cuda_train): $t_ok ok, $t_bad not ok"
	echo "GPT-2 124M, T = 1024; MFU = tokens/s * (6 params + 6 L C T) / 989 TFLOP/s;"
	echo "'vs GEMM' divides by the bf16 GEMM rate measured in the same run (8192^3)."
	printf '%s\n%s\n%s\n' "$qline" "$fline" "$tline" | awk '
	function get(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "-" }
	BEGIN { printf "| %-11s | %5s | %8s | %10s | %7s | %6s | %8s | %10s |\n", "run", "batch", "ms/step", "tokens/s", "TFLOP/s", "MFU", "vs GEMM", "GEMM TF/s" }
	/^(quern|quern-flash|torch):/ {
		name = substr($1, 1, length($1) - 1)
		printf "| %-11s | %5s | %8s | %10s | %7s | %5.1f%% | %7.1f%% | %10s |\n", name, get("B"), get("ms_per_step"),
			get("tokens_per_s"), get("tflops"), 100 * get("mfu"), 100 * get("mfu_vs_gemm"), get("gemm_tflops")
		tps[name] = get("tokens_per_s")
	}
	END {
		if (tps["quern"] > 0 && tps["torch"] > 0)
			printf "quern / PyTorch tokens/s: %.2f\n", tps["quern"] / tps["torch"]
		if (tps["quern-flash"] > 0 && tps["torch"] > 0)
			printf "quern-flash / PyTorch tokens/s: %.2f\n", tps["quern-flash"] / tps["torch"]
	}'
} | tee "$log/table.txt"
save
case "$k_bad$t_bad" in
00) exit 0 ;;
*) exit 1 ;;
esac

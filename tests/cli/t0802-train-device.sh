#!/bin/sh
# quern-train --device: auto (the default), cpu, cuda, and a bogus name.
# --device cuda fails with a clear message where there is no GPU (exit 1)
# or no CUDA in the build (exit 2); where a GPU is present, a run on it
# resumes a CPU checkpoint and its checkpoint resumes on the CPU.  The
# device is recorded in the run's configuration in the manifest.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
command -v sqlite3 >/dev/null 2>&1 || skip_all "no sqlite3"
M="--layers 2 --heads 2 --width 32 -B 4 -T 16 --val-every 2"

# What this build and machine have.
if grep -q '^#define QN_HAVE_CUDA 1' "${QN_TOP_BUILDDIR:-.}/config.h" 2>/dev/null; then
	cuda_built=1
else
	cuda_built=0
fi
gpu=0
if [ $cuda_built = 1 ] && command -v nvidia-smi >/dev/null 2>&1 &&
	nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
	gpu=1
fi
echo "# CUDA built: $cuda_built, GPU present: $gpu"
losses() { sed -n 's/^\(step [0-9/]*: [a-z_]* [^ ]*\).*/\1/p' "$1"; }
device_of_last_run() {
	sql "SELECT json_extract(config, '\$.device') FROM runs WHERE tool = 'quern-train' ORDER BY id DESC LIMIT 1"
}

fails 2 "--device bogus is a usage error" quern-train -o c $M --device bogus shards
like "names the device and the choices" "unknown device 'bogus' \\(auto, cpu or cuda\\)" "$(err)"
fails 2 "--device without a name" quern-train -o c $M shards --device

ok "--device cpu, 2 steps" quern-train -o cpu $M --steps 2 --device cpu shards
cp "$T/.out" cpu.out
is "two steps" 2 "$(grep -c '^step [0-9]*/2: loss' "$T/.out")"
is "the run's configuration says cpu" cpu "$(device_of_last_run)"
like "stderr says where it trains" 'on the CPU' "$(err)"

ok "no --device, 2 steps" quern-train -o auto $M --steps 2 shards
cp "$T/.out" auto.out
if [ $gpu = 1 ]; then
	is "the default is cuda with a GPU" cuda "$(device_of_last_run)"
else
	is "the default is cpu without a GPU" cpu "$(device_of_last_run)"
	ok "and the same losses as --device cpu" test "$(losses auto.out)" = "$(losses cpu.out)"
fi
ok "--device auto, --reference trains on the CPU" quern-train -o ref $M --steps 1 --device auto --reference shards
is "cpu" cpu "$(device_of_last_run)"

if [ $cuda_built = 0 ]; then
	fails 2 "--device cuda in a build without CUDA" quern-train -o g $M --steps 2 --device cuda shards
	is "says so" "quern-train: --device cuda: this build has no CUDA support" "$(err)"
elif [ $gpu = 0 ]; then
	fails 1 "--device cuda without a GPU" quern-train -o g $M --steps 2 --device cuda shards
	is "says so" "quern-train: --device cuda: no CUDA device found" "$(err)"
	ok "and nothing was written" test ! -e g/step-000002.ckpt
	is "nor a run begun" 3 "$(sql "SELECT count(*) FROM runs WHERE tool = 'quern-train'")"
	fails 2 "--device cuda --reference is a usage error" quern-train -o g $M --device cuda --reference shards
else
	skip "--device cuda without a GPU" "a GPU is present"
	# CPU -> GPU -> CPU through checkpoints.
	ok "CPU, 2 of 6 steps" quern-train -q -o x $M --steps 6 --stop-at 2 --device cpu shards
	ok "GPU resumes it, to step 4" quern-train -q -o x --stop-at 4 --device cuda \
		--resume x/step-000002.ckpt shards
	is "recorded as cuda" cuda "$(device_of_last_run)"
	ok "CPU resumes the GPU's checkpoint" quern-train -o x --device cpu --resume x/step-000004.ckpt shards
	sed -n 's/^step [0-9]*\/6: loss \([^ ]*\).*/\1/p' "$T/.out" > l.x
	ok "to the end" test -s x/step-000006.ckpt
	ok "a straight CPU run" quern-train -o y $M --steps 6 --device cpu shards
	sed -n 's/^step [0-9]*\/6: loss \([^ ]*\).*/\1/p' "$T/.out" | tail -n 2 > l.y
	ok "the last losses agree within bf16 rounding (5e-2)" sh -c \
		"paste -d' ' l.x l.y | awk '{ d = \$1 - \$2; if (d < 0) d = -d; if (d > 5e-2) bad = 1 } END { exit bad || NR != 2 }'"
fi
done_testing

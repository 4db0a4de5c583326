# model/cuda/: the GPU path (issue 8), included from model/local.mk.
#
# libqncuda.a: the kernels, the model on the device (gpt_cuda.h) and the
# host-array kernel wrappers the tests use (ops_cuda.h).  A program using
# it links with
#	prog_LDADD = libqncuda.a libqnmodel.a $(LDADD) $(QN_MODEL_LIBS) $(QN_CUDA_LIBS)
# compiles with prog_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model, and
# is built only under `if HAVE_CUDA` (configure's --with-cuda, default
# auto).  The .cu files go through nvcc for sm_80 and sm_90, warnings
# (nvcc's and the host compiler's) as errors.
EXTRA_DIST += model/cuda/local.mk model/cuda/kernels.cu model/cuda/gpt_cuda.cu \
	model/cuda/attention.cu \
	model/cuda/ops_check.cu model/cuda/kernels.cuh model/cuda/gpt_cuda.h \
	model/cuda/ops_cuda.h tests/unit/t_cuda_ops.c tests/unit/t_cuda_train.c \
	bench/gpu.sh bench/gpu-torch.py bench/gpu-bench.c

if HAVE_CUDA
QN_NVCC_FLAGS = -O3 -std=c++17 \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
	-Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
QN_NVCC_CPPFLAGS = -I$(top_srcdir)/lib -I$(top_srcdir)/model $(CUDA_CFLAGS)
QN_CUDA_LIBS = $(CUDA_LIBS) -lstdc++
QN_CUDA_OBJS = model/cuda/kernels.$(OBJEXT) model/cuda/attention.$(OBJEXT) \
	model/cuda/gpt_cuda.$(OBJEXT) model/cuda/ops_check.$(OBJEXT)
QN_CUDA_HDRS = $(top_srcdir)/model/cuda/kernels.cuh $(top_srcdir)/model/cuda/gpt_cuda.h \
	$(top_srcdir)/model/cuda/ops_cuda.h $(top_srcdir)/model/gpt.h $(top_srcdir)/lib/err.h

model/cuda/kernels.$(OBJEXT): $(top_srcdir)/model/cuda/kernels.cu $(QN_CUDA_HDRS)
	@$(MKDIR_P) model/cuda
	$(AM_V_CC)$(NVCC) $(QN_NVCC_FLAGS) $(QN_NVCC_CPPFLAGS) -c -o $@ $(top_srcdir)/model/cuda/kernels.cu
model/cuda/attention.$(OBJEXT): $(top_srcdir)/model/cuda/attention.cu $(QN_CUDA_HDRS)
	@$(MKDIR_P) model/cuda
	$(AM_V_CC)$(NVCC) $(QN_NVCC_FLAGS) $(QN_NVCC_CPPFLAGS) -c -o $@ $(top_srcdir)/model/cuda/attention.cu
model/cuda/gpt_cuda.$(OBJEXT): $(top_srcdir)/model/cuda/gpt_cuda.cu $(QN_CUDA_HDRS)
	@$(MKDIR_P) model/cuda
	$(AM_V_CC)$(NVCC) $(QN_NVCC_FLAGS) $(QN_NVCC_CPPFLAGS) -c -o $@ $(top_srcdir)/model/cuda/gpt_cuda.cu
model/cuda/ops_check.$(OBJEXT): $(top_srcdir)/model/cuda/ops_check.cu $(QN_CUDA_HDRS)
	@$(MKDIR_P) model/cuda
	$(AM_V_CC)$(NVCC) $(QN_NVCC_FLAGS) $(QN_NVCC_CPPFLAGS) -c -o $@ $(top_srcdir)/model/cuda/ops_check.cu

noinst_LIBRARIES += libqncuda.a
libqncuda_a_SOURCES = model/cuda/gpt_cuda.h model/cuda/ops_cuda.h model/cuda/kernels.cuh
libqncuda_a_LIBADD = $(QN_CUDA_OBJS)
libqncuda_a_DEPENDENCIES = $(QN_CUDA_OBJS)
CLEANFILES += $(QN_CUDA_OBJS)

# GPU tests: they build wherever CUDA is, and skip (77) without a GPU.
unit_tests += tests/unit/t_cuda_ops tests/unit/t_cuda_train
tests_unit_t_cuda_ops_SOURCES = tests/unit/t_cuda_ops.c tests/tap.h
tests_unit_t_cuda_ops_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_cuda_ops_LDADD = libqncuda.a libqnmodel.a $(LDADD) $(QN_MODEL_LIBS) $(QN_CUDA_LIBS)
tests_unit_t_cuda_train_SOURCES = tests/unit/t_cuda_train.c tests/tap.h
tests_unit_t_cuda_train_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_cuda_train_LDADD = libqncuda.a libqnmodel.a $(LDADD) $(QN_MODEL_LIBS) $(QN_CUDA_LIBS)

# The device machine's benchmark driver (bench/gpu.sh builds it there
# without make; here make bench builds it, so it stays warning-clean).
# bench/gpu.sh is not in bench_scripts: it needs a GPU (exit 77 without).
EXTRA_PROGRAMS += bench/gpu-bench
bench_gpu_bench_SOURCES = bench/gpu-bench.c
bench_gpu_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
bench_gpu_bench_LDADD = libqncuda.a libqnmodel.a $(LDADD) $(QN_MODEL_LIBS) $(QN_CUDA_LIBS)
endif

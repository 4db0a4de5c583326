# model/: the GPT-2 model on the CPU (issue 7).  Included by the top
# Makefile.am.
#
# libqnmodel.a: the reference ops, the fast ops (OpenBLAS + OpenMP) and
# the model.  A program using it links with
#	prog_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)
# (QN_MODEL_LIBS is OpenBLAS, libgomp and libm) and compiles with
#	prog_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
noinst_LIBRARIES += libqnmodel.a
QN_MODEL_CFLAGS = -fopenmp -ffp-contract=off -fno-math-errno -fno-trapping-math -ftree-vectorize
QN_MODEL_LIBS = $(OPENBLAS_LIBS) -lgomp -lm
libqnmodel_a_CPPFLAGS = $(AM_CPPFLAGS) $(OPENBLAS_CFLAGS)
libqnmodel_a_CFLAGS = $(AM_CFLAGS) $(QN_MODEL_CFLAGS)
libqnmodel_a_SOURCES = \
	model/gpt.c model/gpt.h model/gpt_pass.h \
	model/ops.h model/ops_ref.c model/ops_fast.c
# trainer/'s part of the model: generation with a KV cache, llm.c's file.
libqnmodel_a_SOURCES += model/kv.c model/llmc.c

unit_tests += tests/unit/t_ops
tests_unit_t_ops_SOURCES = tests/unit/t_ops.c tests/tap.h
tests_unit_t_ops_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_ops_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)
unit_tests += tests/unit/t_gpt tests/unit/t_gpt_grad
tests_unit_t_gpt_SOURCES = tests/unit/t_gpt.c tests/tap.h
tests_unit_t_gpt_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_gpt_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)
# the reference ops built a second time over double (qn_refd_*)
tests_unit_t_gpt_grad_SOURCES = tests/unit/t_gpt_grad.c model/ops_ref.c tests/tap.h
tests_unit_t_gpt_grad_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model -DQN_REF_DOUBLE
tests_unit_t_gpt_grad_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)
# the same model in PyTorch ($TORCH_PYTHON); skips without torch
unit_tests += tests/unit/t_gpt_torch
tests_unit_t_gpt_torch_SOURCES = tests/unit/t_gpt_torch.c tests/tap.h
tests_unit_t_gpt_torch_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_gpt_torch_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)
EXTRA_DIST += tests/model/gpt_torch.py

# make bench BENCH=model
EXTRA_PROGRAMS += bench/model-bench
bench_scripts += bench/model.sh
EXTRA_DIST += bench/model-torch.py
bench_model_bench_SOURCES = bench/model-bench.c
bench_model_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model $(OPENBLAS_CFLAGS)
bench_model_bench_CFLAGS = $(AM_CFLAGS) -fopenmp
bench_model_bench_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS) -ldl

# ---- GPU path (model/cuda/, issue 8; owned there): its rules and tests ----
include $(srcdir)/model/cuda/local.mk
# ---- end of the GPU path ----

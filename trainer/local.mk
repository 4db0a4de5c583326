# trainer/: quern-train and quern-sample (issue 7).  Included by the top
# Makefile.am.
#
# libqntrain.a holds what needs no model: the checkpoint file, the
# schedule and the sampler, so its unit tests and the checkpoint fuzz
# target link without the model library.
noinst_LIBRARIES += libqntrain.a
libqntrain_a_SOURCES = \
	trainer/checkpoint.c trainer/checkpoint.h \
	trainer/schedule.c trainer/schedule.h \
	trainer/sampling.c trainer/sampling.h

unit_tests += \
	tests/unit/t_ckpt \
	tests/unit/t_train_schedule \
	tests/unit/t_fuzz_ckpt
tests_unit_t_ckpt_SOURCES = tests/unit/t_ckpt.c tests/tap.h
tests_unit_t_ckpt_LDADD = libqntrain.a $(LDADD) -lm
tests_unit_t_train_schedule_SOURCES = tests/unit/t_train_schedule.c tests/tap.h
tests_unit_t_train_schedule_LDADD = libqntrain.a $(LDADD) -lm
tests_unit_t_fuzz_ckpt_SOURCES = tests/unit/t_fuzz_ckpt.c tests/fuzz/fuzz_ckpt.c tests/tap.h
tests_unit_t_fuzz_ckpt_LDADD = libqntrain.a $(LDADD) -lm

unit_tests += tests/unit/t_train_model
tests_unit_t_train_model_SOURCES = tests/unit/t_train_model.c tests/tap.h
tests_unit_t_train_model_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model
tests_unit_t_train_model_LDADD = libqnmodel.a $(LDADD) $(QN_MODEL_LIBS)

bin_PROGRAMS += quern-train
quern_train_SOURCES = trainer/quern-train.c
# With CUDA (configure's --with-cuda, default auto) it also trains on the
# GPU (--device cuda, model/cuda/gpt_cuda.h); -DQN_WITH_CUDA turns that on.
if HAVE_CUDA
QN_TRAIN_CUDA_CPPFLAGS = -DQN_WITH_CUDA
QN_TRAIN_CUDA_LDADD = libqncuda.a
QN_TRAIN_CUDA_LIBS = $(QN_CUDA_LIBS)
else
QN_TRAIN_CUDA_CPPFLAGS =
QN_TRAIN_CUDA_LDADD =
QN_TRAIN_CUDA_LIBS =
endif
quern_train_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model $(QN_TRAIN_CUDA_CPPFLAGS)
quern_train_LDADD = libqntrain.a $(QN_TRAIN_CUDA_LDADD) libqnmodel.a libqndata.a $(LDADD) \
	$(QN_MODEL_LIBS) $(QN_TRAIN_CUDA_LIBS)
dist_man_MANS += man/quern-train.1
cli_tests += \
	tests/cli/t0800-train-man-examples.sh \
	tests/cli/t0801-train-errors.sh \
	tests/cli/t0802-train-device.sh \
	tests/cli/t0803-train-disk-kill.sh

bin_PROGRAMS += quern-sample
quern_sample_SOURCES = trainer/quern-sample.c
quern_sample_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/model -I$(top_srcdir)/tokenizer
quern_sample_LDADD = libqntrain.a libqnmodel.a libqntok.a $(LDADD) $(QN_MODEL_LIBS) $(PCRE2_LIBS) $(ICU_LIBS)
dist_man_MANS += man/quern-sample.1
cli_tests += \
	tests/cli/t0900-sample-man-examples.sh \
	tests/cli/t0901-sample-errors.sh
EXTRA_DIST += tests/cli/train-data.sh

# A test-only shard writer for the CLI tests (where quern-shard is not built).
check_PROGRAMS += tests/trainer-mkshards
tests_trainer_mkshards_SOURCES = tests/trainer-mkshards.c
tests_trainer_mkshards_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/datasets -I$(top_srcdir)/tokenizer
tests_trainer_mkshards_LDADD = libqndata.a libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

# make bench BENCH=train
bench_scripts += bench/train.sh

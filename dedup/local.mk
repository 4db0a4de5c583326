# dedup/: quern-dedup (issue 4).  Included by the top Makefile.am.
noinst_LIBRARIES += libqndedup.a
libqndedup_a_SOURCES = dedup/dedup.h dedup/minhash.c dedup/extsort.c dedup/sigfile.c \
	dedup/cluster.c
libqndedup_a_CPPFLAGS = $(AM_CPPFLAGS) $(ICU_CFLAGS) $(XXHASH_CFLAGS)
QN_DEDUP_LIBS = libqndedup.a $(LDADD) $(ICU_LIBS) -lm

bin_PROGRAMS += quern-dedup
quern_dedup_SOURCES = dedup/quern-dedup.c
quern_dedup_CPPFLAGS = $(AM_CPPFLAGS) $(ICU_CFLAGS)
quern_dedup_LDADD = $(QN_DEDUP_LIBS)

unit_tests += tests/unit/t_dedup_sort
tests_unit_t_dedup_sort_SOURCES = tests/unit/t_dedup_sort.c tests/tap.h
tests_unit_t_dedup_sort_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/dedup
tests_unit_t_dedup_sort_LDADD = $(QN_DEDUP_LIBS)
unit_tests += tests/unit/t_dedup
tests_unit_t_dedup_SOURCES = tests/unit/t_dedup.c tests/tap.h
tests_unit_t_dedup_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/dedup
tests_unit_t_dedup_LDADD = $(QN_DEDUP_LIBS)
dist_man_MANS += man/quern-dedup.1
cli_tests += \
	tests/cli/t0500-dedup-basic.sh \
	tests/cli/t0501-dedup-mapreduce.sh \
	tests/cli/t0502-dedup-bad-input.sh \
	tests/cli/t0503-dedup-man-examples.sh
unit_tests += tests/unit/t_fuzz_dedup
tests_unit_t_fuzz_dedup_SOURCES = tests/unit/t_fuzz_dedup.c tests/fuzz/fuzz_dedup.c tests/tap.h
tests_unit_t_fuzz_dedup_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/dedup
tests_unit_t_fuzz_dedup_LDADD = $(QN_DEDUP_LIBS)

# make bench: bench/dedup.sh (signing speed, clustering at scale, accuracy).
EXTRA_PROGRAMS += bench/dedup-bench
bench_dedup_bench_SOURCES = bench/dedup-bench.c
bench_dedup_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/dedup
bench_dedup_bench_LDADD = $(QN_DEDUP_LIBS)
bench_scripts += bench/dedup.sh
EXTRA_DIST += bench/dedup-accuracy.py

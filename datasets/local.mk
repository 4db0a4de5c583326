# datasets/: the token shard formats, the training reader (loader.h) and
# quern-shard (issue 6).  Included by the top Makefile.am.
noinst_LIBRARIES += libqndata.a
libqndata_a_SOURCES = \
	datasets/shard.c datasets/shard.h \
	datasets/loader.c datasets/loader.h

unit_tests += \
	tests/unit/t_shard \
	tests/unit/t_loader \
	tests/unit/t_fuzz_shard
tests_unit_t_shard_SOURCES = tests/unit/t_shard.c tests/tap.h
tests_unit_t_shard_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/datasets
tests_unit_t_shard_LDADD = libqndata.a $(LDADD)
tests_unit_t_loader_SOURCES = tests/unit/t_loader.c tests/tap.h
tests_unit_t_loader_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/datasets
tests_unit_t_loader_LDADD = libqndata.a $(LDADD)
tests_unit_t_fuzz_shard_SOURCES = tests/unit/t_fuzz_shard.c tests/fuzz/fuzz_shard.c tests/tap.h
tests_unit_t_fuzz_shard_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/datasets
tests_unit_t_fuzz_shard_LDADD = libqndata.a $(LDADD)

bin_PROGRAMS += quern-shard
quern_shard_SOURCES = datasets/quern-shard.c
quern_shard_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/datasets -I$(top_srcdir)/tokenizer
quern_shard_LDADD = libqndata.a libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
dist_man_MANS += man/quern-shard.1 man/quern-shard.5
cli_tests += \
	tests/cli/t0700-shard-roundtrip.sh \
	tests/cli/t0701-shard-bad.sh \
	tests/cli/t0702-shard-man-examples.sh \
	tests/cli/t0703-shard-own-tokenizer.sh

bench_scripts += bench/shard.sh

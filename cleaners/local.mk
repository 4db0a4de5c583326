# cleaners/: quern-clean (issue 9).  Included by the top Makefile.am.
noinst_LIBRARIES += libqnclean.a
libqnclean_a_SOURCES = \
	cleaners/clean.h cleaners/internal.h \
	cleaners/config.c cleaners/text.c cleaners/filters.c \
	cleaners/pii.c cleaners/rules.c cleaners/cleaner.c \
	cleaners/langid.cc cleaners/nfc.cc
libqnclean_a_CPPFLAGS = $(AM_CPPFLAGS) $(ICU_CFLAGS) $(PCRE2_CFLAGS) $(XXHASH_CFLAGS) \
	$(CLD2_CFLAGS)
QN_CLEAN_LIBS = libqnclean.a $(LDADD) $(ICU_LIBS) $(PCRE2_LIBS) $(CLD2_LIBS) -lm

bin_PROGRAMS += quern-clean
quern_clean_SOURCES = cleaners/quern-clean.c
quern_clean_CPPFLAGS = $(AM_CPPFLAGS) $(ICU_CFLAGS)
quern_clean_LDADD = $(QN_CLEAN_LIBS)
dist_man_MANS += man/quern-clean.1
cli_tests += \
	tests/cli/t0400-clean-basic.sh \
	tests/cli/t0401-clean-bad-input.sh \
	tests/cli/t0402-clean-golden.sh \
	tests/cli/t0403-clean-disk-kill.sh
EXTRA_DIST += tests/golden/clean.jsonl tests/golden/clean-ref.py cleaners/software-docs.conf
unit_tests += tests/unit/t_clean
tests_unit_t_clean_SOURCES = tests/unit/t_clean.c tests/tap.h
tests_unit_t_clean_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/cleaners
tests_unit_t_clean_LDADD = $(QN_CLEAN_LIBS)
unit_tests += tests/unit/t_fuzz_clean
tests_unit_t_fuzz_clean_SOURCES = tests/unit/t_fuzz_clean.c tests/fuzz/fuzz_clean.c tests/tap.h
tests_unit_t_fuzz_clean_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/cleaners
tests_unit_t_fuzz_clean_LDADD = $(QN_CLEAN_LIBS)
bench_scripts += bench/clean.sh

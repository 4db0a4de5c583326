# tokenizer/: included by the top Makefile.am.  Add with +=: bin_PROGRAMS,
# dist_man_MANS, unit_tests, cli_tests, EXTRA_PROGRAMS, bench_scripts,
# EXTRA_DIST, noinst_LIBRARIES.

# libqntok.a: the tokenizer library (tokenizer.h).  Users link
#   prog_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
# and compile with -I$(top_srcdir)/tokenizer (tokenizer.h includes buf.h
# and err.h from lib/).
noinst_LIBRARIES += libqntok.a
libqntok_a_CPPFLAGS = $(AM_CPPFLAGS) $(PCRE2_CFLAGS) $(XXHASH_CFLAGS)
libqntok_a_SOURCES = \
	tokenizer/tokenizer.h tokenizer/tok_impl.h \
	tokenizer/tok.c tokenizer/tokload.c \
	tokenizer/pretok.c tokenizer/pretok.h \
	tokenizer/tjson.c tokenizer/tjson.h

unit_tests += tests/unit/t_tok
tests_unit_t_tok_SOURCES = tests/unit/t_tok.c tests/tap.h
tests_unit_t_tok_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

unit_tests += tests/unit/t_tok_exact
tests_unit_t_tok_exact_SOURCES = tests/unit/t_tok_exact.c tests/tap.h
tests_unit_t_tok_exact_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_exact_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
EXTRA_DIST += tokenizer/tiktoken-ids.js

bin_PROGRAMS += quern-tokenize
quern_tokenize_SOURCES = tokenizer/quern-tokenize.c
quern_tokenize_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
quern_tokenize_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
dist_man_MANS += man/quern-tokenize.1
cli_tests += tests/cli/t0600-tokenize-man-examples.sh tests/cli/t0601-tokenize-cli.sh

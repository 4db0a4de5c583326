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
	tokenizer/tjson.c tokenizer/tjson.h \
	tokenizer/bpe.c tokenizer/bpe.h

unit_tests += tests/unit/t_tok
tests_unit_t_tok_SOURCES = tests/unit/t_tok.c tests/tap.h
tests_unit_t_tok_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

unit_tests += tests/unit/t_tok_exact
tests_unit_t_tok_exact_SOURCES = tests/unit/t_tok_exact.c tests/tap.h
tests_unit_t_tok_exact_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_exact_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
EXTRA_DIST += tokenizer/tiktoken-ids.js tokenizer/hf-ids.js

bin_PROGRAMS += quern-tokenize
quern_tokenize_SOURCES = tokenizer/quern-tokenize.c
quern_tokenize_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
quern_tokenize_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
dist_man_MANS += man/quern-tokenize.1 man/quern-bpe-train.1
cli_tests += tests/cli/t0600-tokenizer-man-examples.sh tests/cli/t0601-tokenize-cli.sh \
	tests/cli/t0602-bpe-train-cli.sh

unit_tests += tests/unit/t_tok_train
tests_unit_t_tok_train_SOURCES = tests/unit/t_tok_train.c tests/tap.h
tests_unit_t_tok_train_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_train_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

bin_PROGRAMS += quern-bpe-train
quern_bpe_train_SOURCES = tokenizer/quern-bpe-train.c
quern_bpe_train_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
quern_bpe_train_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

unit_tests += tests/unit/t_tok_pretok
tests_unit_t_tok_pretok_SOURCES = tests/unit/t_tok_pretok.c tests/tap.h
tests_unit_t_tok_pretok_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_tok_pretok_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

unit_tests += tests/unit/t_fuzz_tok
tests_unit_t_fuzz_tok_SOURCES = tests/unit/t_fuzz_tok.c tests/fuzz/fuzz_tok.c tests/tap.h
tests_unit_t_fuzz_tok_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
tests_unit_t_fuzz_tok_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)

EXTRA_PROGRAMS += bench/tokenizer-bench
bench_tokenizer_bench_SOURCES = bench/tokenizer-bench.c
bench_tokenizer_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tokenizer
bench_tokenizer_bench_LDADD = libqntok.a $(LDADD) $(PCRE2_LIBS) $(ICU_LIBS)
bench_scripts += bench/tokenizer.sh
EXTRA_DIST += bench/tokenizer-peers.js

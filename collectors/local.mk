# collectors/: quern-collect (issue 3).  Included by the top Makefile.am.
bin_PROGRAMS += quern-collect
noinst_LIBRARIES += libqncollect.a
libqncollect_a_SOURCES = \
	collectors/collect.h collectors/content.c \
	collectors/charset.h collectors/charset.c \
	collectors/html.h collectors/html.c \
	collectors/warc.h collectors/warc.c
# What libqncollect.a needs to compile and to link, for every program that links it.
QN_COLLECT_CFLAGS = $(ARCHIVE_CFLAGS) $(ICU_CFLAGS) $(GUMBO_CFLAGS) $(LIBXML2_CFLAGS) $(DEFLATE_CFLAGS) $(ZLIB_CFLAGS)
QN_COLLECT_LIBS = libqncollect.a $(LDADD) $(ICU_LIBS) $(GUMBO_LIBS) $(LIBXML2_LIBS) $(DEFLATE_LIBS) $(ZLIB_LIBS) $(ARCHIVE_LIBS)
libqncollect_a_CPPFLAGS = $(AM_CPPFLAGS) $(QN_COLLECT_CFLAGS)
quern_collect_SOURCES = collectors/quern-collect.c
quern_collect_CPPFLAGS = $(AM_CPPFLAGS) $(ARCHIVE_CFLAGS)
quern_collect_LDADD = $(QN_COLLECT_LIBS)
dist_man_MANS += man/quern-collect.1
cli_tests += \
	tests/cli/t0300-collect-dirs.sh \
	tests/cli/t0301-collect-bad-input.sh \
	tests/cli/t0302-collect-archives.sh \
	tests/cli/t0303-collect-warc.sh \
	tests/cli/t0304-collect-charsets-html.sh \
	tests/cli/t0305-collect-jsonl-hostile.sh
unit_tests += tests/unit/t_collect_formats
tests_unit_t_collect_formats_SOURCES = tests/unit/t_collect_formats.c tests/tap.h
tests_unit_t_collect_formats_CPPFLAGS = $(AM_CPPFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_t_collect_formats_LDADD = $(QN_COLLECT_LIBS)
unit_tests += tests/unit/t_fuzz_collect_warc tests/unit/t_fuzz_collect_html tests/unit/t_fuzz_collect_archive
tests_unit_t_fuzz_collect_warc_SOURCES = tests/unit/t_fuzz_collect_warc.c tests/fuzz/fuzz_collect_warc.c tests/tap.h
tests_unit_t_fuzz_collect_warc_LDADD = $(QN_COLLECT_LIBS)
tests_unit_t_fuzz_collect_html_SOURCES = tests/unit/t_fuzz_collect_html.c tests/fuzz/fuzz_collect_html.c tests/tap.h
tests_unit_t_fuzz_collect_html_LDADD = $(QN_COLLECT_LIBS)
tests_unit_t_fuzz_collect_archive_SOURCES = tests/unit/t_fuzz_collect_archive.c tests/fuzz/fuzz_collect_archive.c tests/tap.h
tests_unit_t_fuzz_collect_archive_CPPFLAGS = $(AM_CPPFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_t_fuzz_collect_archive_LDADD = $(QN_COLLECT_LIBS)
EXTRA_DIST += bench/collect-mkwarc.mjs
bench_scripts += bench/collect.sh bench/collect-html-f1.sh
unit_tests += tests/unit/t_html_ref
tests_unit_t_html_ref_SOURCES = tests/unit/t_html_ref.c tests/tap.h
tests_unit_t_html_ref_LDADD = $(QN_COLLECT_LIBS)

# collectors/: quern-collect (issue 3).  Included by the top Makefile.am.
bin_PROGRAMS += quern-collect
quern_collect_SOURCES = collectors/quern-collect.c
quern_collect_CPPFLAGS = $(AM_CPPFLAGS) $(ARCHIVE_CFLAGS)
dist_man_MANS += man/quern-collect.1
cli_tests += \
	tests/cli/t0300-collect-dirs.sh \
	tests/cli/t0301-collect-bad-input.sh

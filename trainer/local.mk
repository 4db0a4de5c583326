# trainer/: included by the top Makefile.am.  Add with +=: bin_PROGRAMS,
# dist_man_MANS, unit_tests, cli_tests, EXTRA_PROGRAMS, bench_scripts,
# EXTRA_DIST, noinst_LIBRARIES.

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

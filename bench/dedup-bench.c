/*
 * dedup-bench: synthetic signature files for the clustering benchmark of
 * bench/dedup.sh.
 *
 *   dedup-bench synth OUT.sig N [SEED]
 *
 * writes N documents with the default parameters (14 bands x 8 rows):
 * random signatures, except that one document in ten copies an earlier
 * one with 12 of its 112 values changed (estimated similarity about 0.9,
 * so nearly all share a band) and one in fifty is an exact copy.  ids are
 * 32 hex digits, as in real streams.  The file is what "quern-dedup sign"
 * writes, so "quern-dedup cluster" reads it as it would real ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	struct qn_dedup_params p;
	struct qn_sigwriter *w;
	struct qn_docsig ds;
	struct qn_hash128 h = { 0, 0 };
	struct qn_err err;
	uint32_t *sigs, *sig;
	struct qn_hash128 *ex;
	uint64_t n, i, k;
	char id[40];

	if (argc < 4 || strcmp(argv[1], "synth")) {
		fprintf(stderr, "usage: dedup-bench synth OUT.sig N [SEED]\n");
		return 2;
	}
	n = strtoull(argv[3], NULL, 10);
	if (argc > 4)
		rng = strtoull(argv[4], NULL, 10) | 1;
	qn_dedup_params_default(&p);
	k = (uint64_t)p.bands * (uint64_t)p.rows;
	/* Keep a window of recent signatures to copy from. */
	sigs = qn_xmalloc(65536 * k * sizeof *sigs);
	ex = qn_xmalloc(65536 * sizeof *ex);
	if (!(w = qn_sigwriter_open(argv[2], &p, h, "synthetic", &err))) {
		fprintf(stderr, "dedup-bench: %s\n", err.msg);
		return 1;
	}
	memset(&ds, 0, sizeof ds);
	for (i = 0; i < n; i++) {
		uint64_t slot = i % 65536, r = next() % 100, j;

		sig = sigs + slot * k;
		if (i > 1000 && r < 12) {
			uint64_t from = (i - 1 - next() % 1000) % 65536;

			memcpy(sig, sigs + from * k, k * sizeof *sig);
			ex[slot] = ex[from];
			if (r >= 2) {	/* near, not exact */
				for (j = 0; j < 12; j++)
					sig[next() % k] = (uint32_t)next();
				ex[slot].lo = next();
			}
		} else {
			for (j = 0; j < k; j++)
				sig[j] = (uint32_t)next();
			ex[slot].hi = next();
			ex[slot].lo = next();
		}
		ds.sig = sig;
		ds.exact = ex[slot];
		snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)next(),
			 (unsigned long long)i);
		if (qn_sigwriter_add(w, id, 32, 1000, 0, &ds, &err) < 0) {
			fprintf(stderr, "dedup-bench: %s\n", err.msg);
			return 1;
		}
	}
	if (qn_sigwriter_commit(w, &err) < 0) {
		fprintf(stderr, "dedup-bench: %s\n", err.msg);
		return 1;
	}
	qn_sigwriter_free(w);
	free(sigs);
	free(ex);
	return 0;
}

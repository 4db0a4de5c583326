/*
 * tokenizer-bench: encoding speed of libqntok, in MB of text per second
 * of CPU time on one thread (so a loaded machine still gives a per-core
 * figure), and bytes per token.  Used by bench/tokenizer.sh.
 *
 *   tokenizer-bench TOKENIZER FILE [REPEATS]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "tokenizer.h"

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct qn_tok *t;
	struct qn_err err;
	struct qn_buf b = QN_BUF_INIT;
	char chunk[1 << 16];
	size_t got;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: tokenizer-bench TOKENIZER FILE [REPEATS]\n");
		return 2;
	}
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	double t0 = cpu();
	if (qn_tok_load(argv[1], &t, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double load = cpu() - t0;
	if (!(f = fopen(argv[2], "rb"))) {
		perror(argv[2]);
		return 1;
	}
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		qn_buf_append(&b, chunk, got);
	fclose(f);
	struct qn_tok_enc *e = qn_tok_enc_new(t);
	struct qn_ids ids = { 0 };
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		ids.n = 0;
		t0 = cpu();
		if (qn_tok_encode(e, b.data, b.len, &ids, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		double dt = cpu() - t0;
		if (dt < best)
			best = dt;
	}
	printf("%.1f MB/s per core, %zu ids, %.3f bytes/token, load %.2f s\n",
	       (double)b.len / best / 1e6, ids.n, (double)b.len / (double)ids.n, load);
	qn_ids_free(&ids);
	qn_tok_enc_free(e);
	qn_tok_free(t);
	qn_buf_release(&b);
	return 0;
}

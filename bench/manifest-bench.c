/*
 * manifest-bench: what the manifest costs.
 *
 *   manifest-bench events DB N	 N doc events in one run (goal: 1 M in <= 2 s)
 *   manifest-bench build DB N	 a manifest of N collected documents, each
 *				 with a shard position, and an event for one
 *				 in ten (the shape a real pipeline leaves)
 *   manifest-bench why DB N K	 K lookups of `why` on random documents of a
 *				 manifest built with N (goal: < 50 ms each)
 *
 * Document ids are derived from their number, as xxh3-128 hex, so that
 * "why" can pick random existing ones.  Not a test: prints numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "manifest.h"
#include "progress.h"

static void id_of(long i, char hex[QN_HASH_HEX])
{
	qn_hash_hex(qn_hash_bytes(&i, sizeof i), hex);
}

static struct qn_manifest *open_run(const char *db, const char *tool)
{
	struct qn_err err;
	struct qn_manifest *m = qn_manifest_open(db, &err);
	char *argv[] = { (char *)tool, NULL };

	if (!m || qn_manifest_run_begin(m, tool, 1, argv, NULL, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	return m;
}

static void end_run(struct qn_manifest *m)
{
	struct qn_err err;

	if (qn_manifest_run_end(m, 1, NULL, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	qn_manifest_close(m);
}

static int events(const char *db, long n)
{
	struct qn_manifest *m = open_run(db, "bench-events");
	struct qn_err err;
	char id[QN_HASH_HEX];
	double t = qn_now();
	long i;

	for (i = 0; i < n; i++) {
		id_of(i, id);
		if (qn_manifest_event(m, id, "drop", "gopher_quality:mean_word_length", "1.8 < 3", NULL, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	end_run(m);
	t = qn_now() - t;
	printf("%ld doc events inserted in %.2f s (%.0f/s; goal 1 M in <= 2 s: %.2fx)\n",
	       n, t, n / t, (2.0 * n / 1e6) / t);
	return 0;
}

static int build(const char *db, long n)
{
	struct qn_manifest *m;
	struct qn_err err;
	char id[QN_HASH_HEX], loc[32];
	double t = qn_now();
	long i;

	m = open_run(db, "bench-collect");
	for (i = 0; i < n; i++) {
		id_of(i, id);
		snprintf(loc, sizeof loc, "line=%ld", i);
		qn_manifest_doc(m, id, "file:///corpus/part-00000.jsonl", loc, 1000 + i % 5000, &err);
	}
	end_run(m);
	printf("  %ld docs: %.1f s\n", n, qn_now() - t);
	m = open_run(db, "bench-clean");
	for (i = 0; i < n; i += 10) {
		id_of(i, id);
		qn_manifest_event(m, id, "drop", "gopher_quality:mean_word_length", "1.8 < 3", NULL, &err);
	}
	end_run(m);
	m = open_run(db, "bench-shard");
	for (i = 0; i < n; i++) {
		id_of(i, id);
		if (i % 10)
			qn_manifest_shard_doc(m, "/corpus/shards/train-000.bin", id, i * 700, 700, &err);
	}
	end_run(m);
	printf("built %s: %ld docs, %ld events, %ld shard rows in %.1f s\n", db, n, n / 10, n - n / 10, qn_now() - t);
	return 0;
}

static int count(void *ctx, const struct qn_row *r)
{
	(*(int *)ctx)++;
	return 0;
}

static int why(const char *db, long n, int k)
{
	struct qn_err err;
	struct qn_manifest *m = qn_manifest_open(db, &err);
	char id[QN_HASH_HEX];
	double worst = 0, sum = 0;
	unsigned long long s = 12345;
	int i, rows = 0;

	if (!m) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (i = 0; i < k; i++) {
		double t;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		id_of((long)((s >> 17) % (unsigned long long)n), id);
		t = qn_now();
		if (qn_manifest_why(m, id, count, &rows, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		t = qn_now() - t;
		sum += t;
		if (t > worst)
			worst = t;
	}
	qn_manifest_close(m);
	printf("why on a %ld-doc manifest: %d lookups, mean %.3f ms, worst %.3f ms (goal < 50 ms), %d rows\n",
	       n, k, 1e3 * sum / k, 1e3 * worst, rows);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "events"))
		return events(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "build"))
		return build(argv[2], atol(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "why"))
		return why(argv[2], atol(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: manifest-bench events DB N | build DB N | why DB N K\n");
	return 2;
}

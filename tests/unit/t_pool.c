/*
 * t_pool: the ordered worker pool.  Batches finish out of order (the work
 * sleeps at random); results must still come back in submission order,
 * and a document stream processed with 1, 2 and 4 threads must come out
 * byte for byte the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "docstream.h"
#include "pool.h"
#include "../tap.h"

struct batch {
	int seq;
	struct qn_doc docs[64];
	int n;
	struct qn_buf out;	/* the batch serialized, in order */
};

/* Work: uppercase ASCII letters of each text, then serialize. */
static void work(void *ctx, void *p, int worker)
{
	struct batch *b = p;
	struct timespec ts = { 0, (long)((unsigned)(b->seq * 7919) % 5) * 200000L };
	int i;
	size_t k;

	nanosleep(&ts, NULL);
	qn_buf_reset(&b->out);
	for (i = 0; i < b->n; i++) {
		struct qn_buf *t = &b->docs[i].text;

		for (k = 0; k < t->len; k++)
			if (t->data[k] >= 'a' && t->data[k] <= 'z')
				t->data[k] = (char)(t->data[k] - 32);
		qn_doc_to_json(&b->docs[i], &b->out);
	}
}

/* Reads in, processes with nthreads, writes out; returns 0 on success. */
static int process(const char *in, const char *out, int nthreads)
{
	struct qn_docreader *r = NULL;
	struct qn_docwriter *w = NULL;
	struct qn_pool *pool;
	struct batch *b, *done;
	struct qn_err err;
	int seq = 0, rc = 0, more = 1, i;

	r = qn_docreader_open(in, NULL, &err);
	w = qn_docwriter_open(out, NULL, &err);
	if (!r || !w)
		return -1;
	pool = qn_pool_new(nthreads, work, NULL, 0);
	while (more) {
		b = calloc(1, sizeof *b);
		b->seq = seq++;
		for (i = 0; i < 64; i++) {
			qn_doc_init(&b->docs[i]);
			if (qn_docreader_next(r, &b->docs[i], &err) != 1) {
				more = 0;
				break;
			}
			b->n++;
		}
		if (qn_pool_full(pool)) {
			done = qn_pool_next(pool);
			rc |= qn_docwriter_write_json(w, done->out.data, done->out.len, &err);
			for (i = 0; i < 64; i++)
				qn_doc_release(&done->docs[i]);
			qn_buf_release(&done->out);
			free(done);
		}
		qn_pool_submit(pool, b);
	}
	while ((done = qn_pool_next(pool))) {
		if (done->out.len)
			rc |= qn_docwriter_write_json(w, done->out.data, done->out.len, &err);
		for (i = 0; i < 64; i++)
			qn_doc_release(&done->docs[i]);
		qn_buf_release(&done->out);
		free(done);
	}
	qn_pool_free(pool);
	rc |= qn_docwriter_commit(w, &err);
	qn_docwriter_free(w);
	qn_docreader_close(r);
	return rc;
}

static int order_seen[1000], order_n;

static void record(void *ctx, void *p, int worker)
{
	struct timespec ts = { 0, (long)(((uintptr_t)p * 2654435761u) % 7) * 100000L };

	nanosleep(&ts, NULL);
}

int main(void)
{
	char dir[] = "/tmp/t_pool.XXXXXX", in[600], out[3][600], cmd[2600];
	struct qn_docwriter *w;
	struct qn_pool *pool;
	struct qn_err err;
	struct qn_doc d;
	int i, ordered = 1;
	const int threads[3] = { 1, 2, 4 };

	if (!mkdtemp(dir))
		skip_all("no temporary directory");
	/* Ordering with plain integers as batches. */
	pool = qn_pool_new(4, record, NULL, 8);
	for (i = 1; i <= 1000; i++) {
		if (qn_pool_full(pool))
			order_seen[order_n++] = (int)(uintptr_t)qn_pool_next(pool);
		qn_pool_submit(pool, (void *)(uintptr_t)i);
	}
	while (order_n < 1000) {
		void *p = qn_pool_next(pool);

		if (!p)
			break;
		order_seen[order_n++] = (int)(uintptr_t)p;
	}
	for (i = 0; i < 1000; i++)
		ordered &= order_seen[i] == i + 1;
	ok(order_n == 1000 && ordered, "1000 batches on 4 threads come back in submission order");
	ok(qn_pool_next(pool) == NULL, "next on an empty pool is NULL");
	qn_pool_free(pool);

	snprintf(in, sizeof in, "%s/in.jsonl.zst", dir);
	w = qn_docwriter_open(in, NULL, &err);
	qn_doc_init(&d);
	for (i = 0; i < 5000; i++) {
		char src[64];

		snprintf(src, sizeof src, "file:///t/%d", i);
		qn_doc_set_origin(&d, src, "");
		qn_buf_reset(&d.text);
		qn_buf_appendf(&d.text, "document number %d with some words \xc3\xa9", i);
		qn_docwriter_write(w, &d, &err);
	}
	qn_doc_release(&d);
	is_int(qn_docwriter_commit(w, &err), 0, "wrote 5000 documents");
	qn_docwriter_free(w);
	for (i = 0; i < 3; i++) {
		snprintf(out[i], sizeof out[i], "%s/out-j%d.jsonl.zst", dir, threads[i]);
		is_int(process(in, out[i], threads[i]), 0, "processed with %d thread%s", threads[i], threads[i] > 1 ? "s" : "");
	}
	snprintf(cmd, sizeof cmd, "cmp -s %s %s && cmp -s %s %s", out[0], out[1], out[0], out[2]);
	ok(system(cmd) == 0, "output bytes are identical for -j1, -j2 and -j4");
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}

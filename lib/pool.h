/*
 * pool.h: a worker pool that gives results back in input order.
 *
 * Programs read their input in batches on one thread, process batches on
 * N workers, and write results on the first thread again.  Because
 * results are taken back strictly in the order the batches were
 * submitted, the output is the same for any number of threads: the rule
 * "output depends only on inputs and parameters, never on -j".
 *
 *	pool = qn_pool_new(nthreads, work, ctx, 0);
 *	while (read a batch b) {
 *		if (qn_pool_full(pool))
 *			write(qn_pool_next(pool));	// waits for the oldest
 *		qn_pool_submit(pool, b);
 *	}
 *	while ((done = qn_pool_next(pool)) != NULL)
 *		write(done);
 *	qn_pool_free(pool);
 *
 * With nthreads 1 no thread is started: submit runs the work in place.
 */
#ifndef QN_POOL_H
#define QN_POOL_H

/* Processes one batch; worker is 0..nthreads-1, for per-worker scratch. */
typedef void (*qn_pool_fn)(void *ctx, void *batch, int worker);

struct qn_pool;

/* depth: batches in flight at most; 0 means 2 * nthreads + 2. */
struct qn_pool *qn_pool_new(int nthreads, qn_pool_fn fn, void *ctx, int depth);
/* Queues a batch.  The pool must not be full (take one with next first). */
void qn_pool_submit(struct qn_pool *p, void *batch);
/* True when depth batches are in flight: take one with qn_pool_next. */
int qn_pool_full(const struct qn_pool *p);
/* The oldest batch, waiting for it to be done; NULL when none is pending. */
void *qn_pool_next(struct qn_pool *p);
/* The oldest batch if it is already done, else NULL; never waits. */
void *qn_pool_ready(struct qn_pool *p);
/* Stops the workers; pending batches are dropped unread. */
void qn_pool_free(struct qn_pool *p);

#endif

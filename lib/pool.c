/*
 * pool.c: ordered worker pool (see pool.h).
 *
 * A ring of depth slots.  Slot i holds the batch with sequence number
 * i mod depth.  Workers take the oldest unclaimed slot; the reader waits
 * for the oldest unread slot to be done.  One mutex and two condition
 * variables: batches are large (thousands of documents), so contention
 * on the lock is negligible.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "pool.h"

struct slot {
	void *batch;
	int done;
};

struct worker {
	struct qn_pool *pool;
	pthread_t tid;
	int id;
};

struct qn_pool {
	qn_pool_fn fn;
	void *ctx;
	int nthreads, depth;
	struct slot *ring;
	uint64_t head;		/* next to read */
	uint64_t claim;		/* next to hand to a worker */
	uint64_t tail;		/* next to submit */
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a batch was submitted, or stop */
	pthread_cond_t done;	/* a batch was finished */
	struct worker *workers;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	struct qn_pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct slot *s;

		while (!p->stop && p->claim == p->tail)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		s = &p->ring[p->claim++ % (uint64_t)p->depth];
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, s->batch, w->id);
		pthread_mutex_lock(&p->mu);
		s->done = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct qn_pool *qn_pool_new(int nthreads, qn_pool_fn fn, void *ctx, int depth)
{
	struct qn_pool *p = qn_xcalloc(1, sizeof *p);
	int i;

	p->fn = fn;
	p->ctx = ctx;
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	p->depth = depth > 0 ? depth : 2 * p->nthreads + 2;
	p->ring = qn_xcalloc((size_t)p->depth, sizeof *p->ring);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (p->nthreads > 1) {
		p->workers = qn_xcalloc((size_t)p->nthreads, sizeof *p->workers);
		for (i = 0; i < p->nthreads; i++) {
			p->workers[i].pool = p;
			p->workers[i].id = i;
			if (pthread_create(&p->workers[i].tid, NULL, run, &p->workers[i]))
				abort();
		}
	}
	return p;
}

int qn_pool_full(const struct qn_pool *p)
{
	return p->tail - p->head >= (uint64_t)p->depth;
}

void qn_pool_submit(struct qn_pool *p, void *batch)
{
	struct slot *s;

	assert(!qn_pool_full(p));
	s = &p->ring[p->tail % (uint64_t)p->depth];
	s->batch = batch;
	s->done = 0;
	if (p->nthreads == 1) {
		p->fn(p->ctx, batch, 0);
		s->done = 1;
		p->tail++;
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->tail++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void *take(struct qn_pool *p, int wait)
{
	struct slot *s;
	void *b;

	if (p->head == p->tail)
		return NULL;
	s = &p->ring[p->head % (uint64_t)p->depth];
	if (p->nthreads > 1) {
		pthread_mutex_lock(&p->mu);
		while (!s->done && wait)
			pthread_cond_wait(&p->done, &p->mu);
		if (!s->done) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		pthread_mutex_unlock(&p->mu);
	}
	b = s->batch;
	s->batch = NULL;
	p->head++;
	return b;
}

void *qn_pool_next(struct qn_pool *p)
{
	return take(p, 1);
}

void *qn_pool_ready(struct qn_pool *p)
{
	return take(p, 0);
}

void qn_pool_free(struct qn_pool *p)
{
	int i;

	if (!p)
		return;
	if (p->workers) {
		pthread_mutex_lock(&p->mu);
		/* Let claimed batches finish; unclaimed ones are dropped. */
		p->stop = 1;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < p->nthreads; i++)
			pthread_join(p->workers[i].tid, NULL);
		free(p->workers);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->ring);
	free(p);
}

/*
 * quern-shard: tokenize document streams into training shards, and look
 * at or check shards already written (quern-shard(1); the formats are in
 * quern-shard(5)).
 *
 *	quern-shard [-m DB] -t TOKENIZER -o DIR [options] IN...
 *	quern-shard inspect [-t TOKENIZER] [--doc ID | --start N --count N] FILE
 *	quern-shard verify DIR
 *
 * Sharding has two phases, because the order of the documents in the
 * shards is global: each document's place is a seeded hash of its id, so
 * it cannot be written before every id has been seen.
 *
 *  1. Read.  Reader threads (one per four encoders, one input each at
 *     a time) decompress and parse the inputs into batches of documents;
 *     the main thread takes them in the order of the inputs and submits
 *     them to the ordered pool, whose workers (one qn_tok_enc each)
 *     tokenize them.  Back on the main
 *     thread, in input order, each document's tokens are appended to the
 *     token store (memory up to --memory, then a spill file unlinked at
 *     once, so nothing is left behind by a killed run) and a 40-byte key
 *     is kept in memory: its order hash, its id, its split, where its
 *     tokens are in the store and how many.
 *  2. Write.  The keys are sorted by (split, order hash, id, tokens),
 *     which depends only on the documents and the seed, never on -j or
 *     on the order of the inputs; then each split's documents are packed
 *     into shards from the store (mapped) in that order.
 *
 * Memory: 40 bytes per document for the keys plus 32 per document for
 * the manifest rows (recorded once the shards are published), the
 * batches in flight (2N + 2 in the pool, RQ_DEPTH + 1 per reader), and
 * the tokens (2 or 4 bytes each) up to --memory
 * (default 1 GiB); past that the tokens go to disk in the output
 * directory.
 *
 * The validation split takes a document when a hash of its id alone (not
 * the seed) falls below --val-fraction: adding or removing documents, or
 * changing the seed, never moves another document between the splits.
 *
 * Shards are written into DIR/.quern-shard-tmp.PID and moved into DIR
 * only when all are complete, shards.meta last; shards of an earlier run
 * that this one did not write are then removed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "progress.h"
#include "shard.h"
#include "tokenizer.h"

#define SHARD_TOKENS_DEFAULT 100000000ULL
#define VAL_FRACTION_DEFAULT 0.01
#define MAX_ERRORS_DEFAULT 1000
#define MEMORY_DEFAULT ((uint64_t)1 << 30)

enum {
	BATCH_DOCS = 256,	/* documents per batch at most */
	BATCH_BYTES = 4 << 20,	/* and bytes of text */
	SPILL_BUF = 8 << 20
};

static struct {
	const char *manifest, *tokenizer, *output, *format;
	int threads, quiet, no_split, megatron;
	double val_fraction;
	uint64_t seed, shard_tokens, memory;
	long max_errors;
} opt;

/* ---- shared bits ---- */

static struct qn_tok *tok;
static char *failure;

static void fail(const char *msg)
{
	if (!failure)
		failure = qn_xstrdup(msg);
}

/* Parses a token count: digits with an optional k, M or G (10^3, 10^6, 10^9). */
static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		mul = 1000, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1000000, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1000000000, end++;
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

/* ---- phase 1: reading and tokenizing ---- */

/* What a worker makes of one document. */
struct dres {
	uint8_t id[16];
	int bad_id;		/* the id is missing or not 32 lowercase hex digits */
	int error;		/* the tokenizer failed: msg */
	char *msg;
	size_t off, n;		/* its tokens in the batch's ids */
	uint64_t bytes;
};

struct batch {
	struct qn_doc *docs;
	struct dres *res;
	int n, cap;
	size_t bytes;
	int src;		/* the input file */
	struct qn_ids ids;
	/* What the reader thread met before these documents, for the main thread. */
	struct qn_buf warn;	/* bad lines' messages, each ending in '\0' */
	int nwarn;
	char *fatal;		/* the stream failed: stop with this */
	int eoi;		/* src was read to its end after these documents */
};

static struct qn_tok_enc **encs;

/*
 * Batches are recycled (made on the reader thread, taken back on the
 * main thread, under spare_mu): their documents' buffers and token
 * arrays keep their memory, so the steady state allocates nothing and
 * touches no new pages.
 */
static struct batch *spare[24];
static int nspare;
static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;

static void batch_destroy(struct batch *b);

static struct batch *batch_new(int src)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&spare_mu);
	if (nspare)
		b = spare[--nspare];
	pthread_mutex_unlock(&spare_mu);
	if (!b)
		b = qn_xcalloc(1, sizeof *b);
	b->src = src;
	return b;
}

static void batch_free(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->res[i].msg);
		b->res[i].msg = NULL;
	}
	free(b->fatal);
	b->fatal = NULL;
	b->eoi = 0;
	b->nwarn = 0;
	qn_buf_reset(&b->warn);
	if (b->ids.cap <= (64u << 20) && b->bytes <= (64u << 20)) {
		b->n = 0;
		b->bytes = 0;
		b->ids.n = 0;
		pthread_mutex_lock(&spare_mu);
		if (nspare < (int)(sizeof spare / sizeof spare[0])) {
			spare[nspare++] = b;
			b = NULL;
		}
		pthread_mutex_unlock(&spare_mu);
		if (!b)
			return;
	}
	batch_destroy(b);
}

static void batch_destroy(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->cap; i++)
		qn_doc_release(&b->docs[i]);
	for (i = 0; i < b->n; i++)
		free(b->res[i].msg);
	free(b->docs);
	free(b->res);
	qn_ids_free(&b->ids);
	qn_buf_release(&b->warn);
	free(b->fatal);
	free(b);
}

/* A fresh document slot at the end of b. */
static struct qn_doc *batch_slot(struct batch *b)
{
	if (b->n == b->cap) {
		int i, ncap = b->cap ? 2 * b->cap : 64;

		b->docs = qn_xrealloc(b->docs, (size_t)ncap * sizeof *b->docs);
		b->res = qn_xrealloc(b->res, (size_t)ncap * sizeof *b->res);
		for (i = b->cap; i < ncap; i++)
			qn_doc_init(&b->docs[i]);
		b->cap = ncap;
	}
	return &b->docs[b->n];
}

static void work(void *ctx, void *batch, int worker)
{
	struct batch *b = batch;
	struct qn_err err;
	int i;

	(void)ctx;
	for (i = 0; i < b->n; i++) {
		struct qn_doc *d = &b->docs[i];
		struct dres *r = &b->res[i];

		memset(r, 0, sizeof *r);
		r->bytes = d->text.len;
		if (!d->has_id || qn_shard_id_parse(qn_buf_str(&d->id), d->id.len, r->id)) {
			r->bad_id = 1;
			continue;
		}
		r->off = b->ids.n;
		if (qn_tok_encode(encs[worker], qn_buf_str(&d->text), d->text.len, &b->ids, &err)) {
			r->error = 1;
			r->msg = qn_xstrdup(err.msg);
			b->ids.n = r->off;
			continue;
		}
		r->n = b->ids.n - r->off;
	}
}

/* One document kept for phase 2: 40 bytes. */
struct key {
	uint64_t order;
	uint8_t id[16];
	uint64_t off;		/* its first token in the spill */
	uint32_t n;		/* its tokens (no EOT) */
	uint16_t src;
	uint8_t split;
	uint8_t pad;
};

static struct key *keys;
static size_t nkeys, capkeys;

static struct {
	uint64_t docs, tokens, bytes, errors, bad_id, tok_error, inputs;
	uint64_t split_docs[2], split_tokens[2];
} cnt;

static uint64_t *src_tokens;	/* per input, EOTs included */

static int spill_fd = -1;
static uint64_t spill_tokens;	/* tokens in the store */
static uint8_t *spill_buf;
static size_t spill_len;
static int tbytes;		/* bytes per token: 2 or 4 */

static struct qn_pool *pool;
static struct qn_manifest *manifest;
static struct qn_progress progress;
static char *tmpdir;

static int spill_flush(void)
{
	size_t off = 0;

	while (off < spill_len) {
		ssize_t w = write(spill_fd, spill_buf + off, spill_len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			char *m = qn_xasprintf("%s: spill file: %s", opt.output, strerror(errno));

			fail(m);
			free(m);
			return -1;
		}
		off += (size_t)w;
	}
	spill_len = 0;
	return 0;
}

/*
 * The token store.  Tokens are appended in the shard's width to an
 * anonymous mapping reserved at --memory bytes, whose pages are only
 * used as they are written; when the next document would not fit, the
 * whole store moves to a spill file in the temporary directory (unlinked
 * at once) and grows there.  Either way phase 2 reads it as one mapping.
 */
static uint8_t *arena;
static size_t arena_len;
static int spilled;

/*
 * Writes ids[0..n) little-endian in the shard's width: one pass, the
 * narrowing to uint16 fused with the copy.  On a little-endian host the
 * 16-bit case goes in blocks of 16 whose fixed trip count the compiler
 * turns into vector packs at -O2, and the 32-bit case is a memcpy.
 */
static void put_tokens(uint8_t *restrict dst, const uint32_t *restrict ids, size_t n)
{
	size_t i = 0;

	if (tbytes == 2) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		for (; i + 16 <= n; i += 16) {
			uint16_t v[16];
			int j;

			for (j = 0; j < 16; j++)
				v[j] = (uint16_t)ids[i + (size_t)j];
			memcpy(dst + 2 * i, v, sizeof v);
		}
#endif
		for (; i < n; i++) {
			dst[2 * i] = (uint8_t)ids[i];
			dst[2 * i + 1] = (uint8_t)(ids[i] >> 8);
		}
	} else {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (n)
			memcpy(dst, ids, 4 * n);
#else
		for (; i < n; i++)
			qn_put32(dst + 4 * i, ids[i]);
#endif
	}
}

/* Moves the arena to a new spill file; 0 or -1 (failure set). */
static int start_spill(void)
{
	char *sp = qn_xasprintf("%s/spill.XXXXXX", tmpdir);
	int rc = 0;

	spill_fd = mkstemp(sp);
	if (spill_fd < 0) {
		char *m = qn_xasprintf("%s: %s", sp, strerror(errno));

		fail(m);
		free(m);
		rc = -1;
	} else {
		unlink(sp);
	}
	free(sp);
	spilled = 1;
	spill_buf = qn_xmalloc(SPILL_BUF);
	if (!rc && arena_len) {
		size_t off = 0;

		while (off < arena_len && !failure) {
			spill_len = arena_len - off < SPILL_BUF ? arena_len - off : SPILL_BUF;
			memcpy(spill_buf, arena + off, spill_len);
			off += spill_len;
			if (spill_flush())
				rc = -1;
		}
	}
	if (arena)
		munmap(arena, (size_t)opt.memory);
	arena = NULL;
	arena_len = 0;
	return rc;
}

static void store(const uint32_t *ids, size_t n)
{
	size_t bytes = n * (size_t)tbytes;

	if (!spilled && arena_len + bytes > opt.memory && start_spill())
		return;
	if (!spilled) {
		put_tokens(arena + arena_len, ids, n);
		arena_len += bytes;
	} else {
		while (n) {
			size_t take = (SPILL_BUF - spill_len) / (size_t)tbytes;

			if (take == 0) {
				if (spill_flush())
					return;
				continue;
			}
			if (take > n)
				take = n;
			put_tokens(spill_buf + spill_len, ids, take);
			spill_len += take * (size_t)tbytes;
			ids += take;
			n -= take;
		}
	}
}

/* The split of an id: val when its hash falls below --val-fraction. */
static int split_of(const uint8_t id[16])
{
	uint64_t hi = qn_le64(id), lo = qn_le64(id + 8);
	uint64_t h = qn_mix64(qn_mix64(hi ^ 0x76616c2d73706c69ULL) ^ lo);	/* "val-spli" */

	return (double)(h >> 11) * 0x1.0p-53 < opt.val_fraction ? QN_SHARD_VAL : QN_SHARD_TRAIN;
}

static uint64_t order_of(const uint8_t id[16])
{
	uint64_t hi = qn_le64(id), lo = qn_le64(id + 8);

	return qn_mix64(qn_mix64(hi ^ qn_mix64(opt.seed + 0x9e3779b97f4a7c15ULL)) ^ lo);
}

static void count_error(void)
{
	if (++cnt.errors > (uint64_t)opt.max_errors) {
		char *m = qn_xasprintf("more than %ld errors (--max-errors), giving up", opt.max_errors);

		fail(m);
		free(m);
	}
}

static void consume(struct batch *b, char *const *inputs)
{
	struct qn_err err;
	int i;

	for (i = 0; i < b->n && !failure; i++) {
		struct qn_doc *d = &b->docs[i];
		struct dres *r = &b->res[i];
		struct key *k;
		char *v;

		if (r->bad_id || r->error) {
			const char *rule = r->bad_id ? "shard:invalid_id" : "shard:tokenizer";

			if (r->bad_id) {
				cnt.bad_id++;
				v = qn_xasprintf("%s:%ld: %s", inputs[b->src], d->line,
						 d->has_id ? "id is not 32 lowercase hex digits" : "no id");
			} else {
				cnt.tok_error++;
				v = qn_xasprintf("%s:%ld: %s", inputs[b->src], d->line, r->msg);
			}
			qn_warnx("%s", v);
			if (d->has_id && d->id.len &&
			    qn_manifest_event(manifest, qn_buf_str(&d->id), "reject", rule, v, NULL, &err))
				fail(err.msg);
			free(v);
			count_error();
			continue;
		}
		if (r->n > QN_SHARD_MAX_TOKENS - 1) {
			v = qn_xasprintf("%s:%ld: document of %zu tokens: over a shard's limit", inputs[b->src], d->line, r->n);
			qn_warnx("%s", v);
			free(v);
			count_error();
			continue;
		}
		if (nkeys == capkeys) {
			capkeys = capkeys ? 2 * capkeys : 4096;
			keys = qn_xrealloc(keys, capkeys * sizeof *keys);
		}
		k = &keys[nkeys++];
		memset(k, 0, sizeof *k);
		memcpy(k->id, r->id, 16);
		k->order = order_of(r->id);
		k->off = spill_tokens;
		k->n = (uint32_t)r->n;
		k->src = (uint16_t)b->src;
		k->split = (uint8_t)split_of(r->id);
		store(b->ids.v + r->off, r->n);
		spill_tokens += r->n;
		cnt.docs++;
		cnt.tokens += r->n + 1;
		cnt.bytes += r->bytes;
		cnt.split_docs[k->split]++;
		cnt.split_tokens[k->split] += r->n + 1;
		src_tokens[b->src] += r->n + 1;
	}
	qn_progress_update(&progress, cnt.docs, cnt.bytes);
	batch_free(b);
}

static void submit(struct batch *b, char *const *inputs)
{
	if (qn_pool_full(pool))
		consume(qn_pool_next(pool), inputs);
	qn_pool_submit(pool, b);
}

/*
 * The reader threads.  Decompressing and parsing the inputs runs on
 * threads of their own, alongside the encoders, so that it neither adds
 * to the encoding time at -j1 nor caps the throughput of many encoders
 * at -j N: one reader per READER_SHARE encoders (a reader keeps about
 * that many busy), each taking the next input not yet taken, so several
 * inputs are read at once.  A reader touches nothing the main thread
 * owns (the manifest, the counters, failure): what it meets on the way
 * (a bad line, a broken stream, the end of an input) travels in the
 * batches, in order, through a short queue per input, and the main
 * thread takes the inputs' queues in the order of the inputs and acts on
 * it as it takes them, as it did when it read the inputs itself.
 */
enum {
	RQ_DEPTH = 4,		/* batches read ahead at most, per input being read */
	READER_SHARE = 4
};

struct rqueue {
	struct batch *q[RQ_DEPTH];
	int head, n;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	struct rqueue *in;	/* one per input */
	int next;		/* the next input no reader has taken */
	int last;		/* no reader takes an input past this one (a broken stream) */
	int stop;		/* the main thread wants no more */
	int ninputs;
	char *const *inputs;
} rq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, NULL };

/* Queues b for the main thread; -1 (b freed) when it wants no more. */
static int rq_put(struct batch *b)
{
	struct rqueue *q = &rq.in[b->src];

	pthread_mutex_lock(&rq.mu);
	while (q->n == RQ_DEPTH && !rq.stop)
		pthread_cond_wait(&rq.room, &rq.mu);
	if (rq.stop) {
		pthread_mutex_unlock(&rq.mu);
		batch_free(b);
		return -1;
	}
	q->q[(q->head + q->n) % RQ_DEPTH] = b;
	q->n++;
	pthread_cond_signal(&rq.more);
	pthread_mutex_unlock(&rq.mu);
	return 0;
}

/*
 * The next batch of input src, waiting for it.  Every input's last batch
 * says so (eoi, or fatal), so the caller knows when to go on to the next.
 */
static struct batch *rq_get(int src)
{
	struct rqueue *q = &rq.in[src];
	struct batch *b;

	pthread_mutex_lock(&rq.mu);
	while (q->n == 0)
		pthread_cond_wait(&rq.more, &rq.mu);
	b = q->q[q->head];
	q->head = (q->head + 1) % RQ_DEPTH;
	q->n--;
	pthread_cond_broadcast(&rq.room);
	pthread_mutex_unlock(&rq.mu);
	return b;
}

/* Tells the readers to stop, waits for them, and frees what they had queued. */
static void rq_stop(pthread_t *readers, int nreaders)
{
	int i;

	pthread_mutex_lock(&rq.mu);
	rq.stop = 1;
	pthread_cond_broadcast(&rq.room);
	pthread_mutex_unlock(&rq.mu);
	for (i = 0; i < nreaders; i++)
		pthread_join(readers[i], NULL);
	for (i = 0; i < rq.ninputs; i++)
		while (rq.in[i].n) {
			batch_free(rq.in[i].q[rq.in[i].head]);
			rq.in[i].head = (rq.in[i].head + 1) % RQ_DEPTH;
			rq.in[i].n--;
		}
}

/* Sets b's fatal message (the first one only). */
static void batch_fatal(struct batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void batch_fatal(struct batch *b, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (b->fatal)
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = qn_xstrdup("out of memory");
	va_end(ap);
	b->fatal = m;
}

/* Reads one input into batches and queues them; -1 to stop reading. */
static int read_input(int src)
{
	const char *name = rq.inputs[src];
	struct qn_docreader *r;
	struct qn_err err;
	struct batch *b = batch_new(src);
	int rc;

	if (!(r = qn_docreader_open(name, NULL, &err))) {
		batch_fatal(b, "%s", err.msg);
		rq_put(b);
		return -1;
	}
	for (;;) {
		struct qn_doc *d;

		if (qn_signalled) {
			batch_fatal(b, "interrupted by %s", strsignal(qn_signalled));
			break;
		}
		d = batch_slot(b);
		rc = qn_docreader_next(r, d, &err);
		if (rc == 0)
			break;
		if (rc == QN_EINPUT) {
			qn_buf_append(&b->warn, err.msg, strlen(err.msg) + 1);
			b->nwarn++;
		} else if (rc < 0) {
			/* Stopped by a signal: say so rather than what the read ran into. */
			if (qn_signalled)
				batch_fatal(b, "interrupted by %s", strsignal(qn_signalled));
			batch_fatal(b, "%s", err.msg);
			break;
		} else {
			memset(&b->res[b->n], 0, sizeof b->res[b->n]);
			b->n++;
			b->bytes += d->text.len;
		}
		if (b->n >= BATCH_DOCS || b->bytes >= BATCH_BYTES || b->nwarn >= 64) {
			if (rq_put(b)) {
				qn_docreader_close(r);
				return -1;
			}
			b = batch_new(src);
		}
	}
	if (qn_signalled)
		batch_fatal(b, "interrupted by %s", strsignal(qn_signalled));
	qn_docreader_close(r);
	b->eoi = !b->fatal;
	rc = b->fatal ? -1 : 0;
	if (rq_put(b))
		return -1;
	return rc;
}

static void *reader_main(void *arg)
{
	(void)arg;
	for (;;) {
		int src;

		pthread_mutex_lock(&rq.mu);
		src = rq.stop || rq.next > rq.last ? -1 : rq.next++;
		pthread_mutex_unlock(&rq.mu);
		if (src < 0)
			break;
		if (read_input(src)) {
			/* Stopped, or src is broken: the run ends there, read no further. */
			pthread_mutex_lock(&rq.mu);
			if (src < rq.last)
				rq.last = src;
			pthread_mutex_unlock(&rq.mu);
		}
	}
	return NULL;
}

/*
 * Takes a batch from the reader in reading order: its bad lines are
 * warned about and counted, its documents go to the encoders, and the
 * input it ends is recorded in the manifest.
 */
static void take(struct batch *b, char *const *inputs)
{
	const char *w = b->warn.data;
	struct qn_err err;
	struct stat st;
	int i, src = b->src, eoi = b->eoi;

	for (i = 0; i < b->nwarn && !failure; i++) {
		qn_warnx("%s", w);
		count_error();
		w += strlen(w) + 1;
	}
	if (b->fatal)
		fail(b->fatal);
	if (b->n && !failure) {
		submit(b, inputs);
	} else {
		batch_free(b);
	}
	if (!eoi || failure)
		return;
	/* Inputs are recorded by content; a pipe or FIFO cannot be read again. */
	if (strcmp(inputs[src], "-") && stat(inputs[src], &st) == 0 && S_ISREG(st.st_mode) &&
	    qn_manifest_file(manifest, inputs[src], QN_INPUT, &err))
		fail(err.msg);
	cnt.inputs++;
}

/* ---- phase 2: writing ---- */

static const uint8_t *spill_map;	/* the spill, mapped for phase 2 */
static size_t spill_map_len;

/*
 * Documents sharing an id (rare: the same document given twice) are
 * ordered by their tokens, so that the order never depends on the input
 * order; equal tokens make equal shards in either order.
 */
static int cmp_key(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	size_t n;
	int c;

	if (a->split != b->split)
		return a->split < b->split ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	c = memcmp(a->id, b->id, 16);
	if (c)
		return c;
	n = a->n < b->n ? a->n : b->n;
	c = n ? memcmp(spill_map + a->off * (uint64_t)tbytes, spill_map + b->off * (uint64_t)tbytes,
		       n * (size_t)tbytes) : 0;
	if (c)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

/* Maps the store for phase 2. */
static void map_spill(void)
{
	spill_map_len = (size_t)(spill_tokens * (uint64_t)tbytes);
	if (!spilled) {
		spill_map = arena;
		return;
	}
	if (spill_flush() || !spill_map_len)
		return;
	spill_map = mmap(NULL, spill_map_len, PROT_READ, MAP_SHARED, spill_fd, 0);
	if (spill_map == MAP_FAILED) {
		char *m = qn_xasprintf("%s: spill file: mmap: %s", opt.output, strerror(errno));

		spill_map = NULL;
		fail(m);
		free(m);
	}
}

/* A piece of a document in a published shard: the manifest's row. */
struct piece {
	uint8_t id[16];
	uint64_t first;
	uint32_t count;
	uint32_t shard;		/* into the metadata's shard list */
};

static struct piece *pieces;
static size_t npieces, cappieces;
static struct qn_shard_meta meta;

static void shard_done(void *ctx, const char *name, const struct qn_shard_doc *docs,
		       uint64_t ndocs, uint64_t ntokens)
{
	int split = *(int *)ctx;
	uint64_t i;

	qn_shard_meta_add(&meta, name, split, ntokens, ndocs);
	for (i = 0; i < ndocs; i++) {
		struct piece *p;

		if (npieces == cappieces) {
			cappieces = cappieces ? 2 * cappieces : 4096;
			pieces = qn_xrealloc(pieces, cappieces * sizeof *pieces);
		}
		p = &pieces[npieces++];
		memcpy(p->id, docs[i].id, 16);
		p->first = docs[i].first;
		p->count = docs[i].count;
		p->shard = (uint32_t)meta.nshards - 1;
	}
}

/* Megatron: one .bin of token sequences (each document then EOT) and its .idx per shard. */
struct mm {
	int split;
	const char *prefix;
	uint32_t number;
	int fd;
	char *name;
	uint64_t ntokens;
	uint32_t *sizes;
	uint8_t (*ids)[16];
	uint64_t n, cap;
	struct qn_buf buf;
};

static int write_file(const char *path, const void *p, size_t n, struct qn_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *c = p;

	if (fd < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			close(fd);
			return qn_err_set(err, QN_EIO, "%s: write: %s", path, strerror(e));
		}
		c += w;
		n -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
	return 0;
}

static int mm_flush(struct mm *m, struct qn_err *err)
{
	size_t off = 0;

	while (off < m->buf.len) {
		ssize_t w = write(m->fd, m->buf.data + off, m->buf.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return qn_err_set(err, QN_EIO, "%s/%s: write: %s", tmpdir, m->name, strerror(errno));
		off += (size_t)w;
	}
	qn_buf_reset(&m->buf);
	return 0;
}

static int mm_close(struct mm *m, struct qn_err *err)
{
	struct qn_buf idx = QN_BUF_INIT;
	char *path;
	uint64_t i, first = 0;
	int rc;

	if (m->fd < 0)
		return 0;
	if ((rc = mm_flush(m, err)))
		return rc;
	if (fsync(m->fd) < 0 || close(m->fd) < 0) {
		m->fd = -1;
		return qn_err_set(err, QN_EIO, "%s/%s: %s", tmpdir, m->name, strerror(errno));
	}
	m->fd = -1;
	qn_mmidx_encode(tbytes, m->sizes, m->n, &idx);
	path = qn_xasprintf("%s/%.*s.idx", tmpdir, (int)strlen(m->name) - 4, m->name);
	rc = write_file(path, idx.data, idx.len, err);
	free(path);
	qn_buf_release(&idx);
	if (rc)
		return rc;
	qn_shard_meta_add(&meta, m->name, m->split, m->ntokens, m->n);
	for (i = 0; i < m->n; i++) {
		struct piece *p;

		if (npieces == cappieces) {
			cappieces = cappieces ? 2 * cappieces : 4096;
			pieces = qn_xrealloc(pieces, cappieces * sizeof *pieces);
		}
		p = &pieces[npieces++];
		memcpy(p->id, m->ids[i], 16);
		p->first = first;
		p->count = m->sizes[i];
		p->shard = (uint32_t)meta.nshards - 1;
		first += m->sizes[i];
	}
	free(m->name);
	m->name = NULL;
	m->n = 0;
	m->ntokens = 0;
	return 0;
}

/* One document: its n tokens raw (in the shard's width, from the store), then EOT. */
static int mm_doc(struct mm *m, const uint8_t id[16], const uint8_t *raw, size_t n,
		  struct qn_err *err)
{
	uint64_t total = n + 1;
	uint32_t eot = (uint32_t)qn_tok_eot(tok);
	uint8_t b[4];
	int rc;

	if (m->fd >= 0 && m->ntokens && m->ntokens + total > opt.shard_tokens && (rc = mm_close(m, err)))
		return rc;
	if (m->fd < 0) {
		char *path;

		m->name = qn_xasprintf("%s_%06" PRIu32 ".bin", m->prefix, m->number++);
		path = qn_xasprintf("%s/%s", tmpdir, m->name);
		m->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (m->fd < 0) {
			rc = qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
			free(path);
			return rc;
		}
		free(path);
	}
	if (n)
		qn_buf_append(&m->buf, raw, n * (size_t)tbytes);
	qn_put32(b, eot);
	qn_buf_append(&m->buf, b, (size_t)tbytes);
	if (m->buf.len > SPILL_BUF && (rc = mm_flush(m, err)))
		return rc;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->sizes = qn_xrealloc(m->sizes, m->cap * sizeof *m->sizes);
		m->ids = qn_xrealloc(m->ids, m->cap * sizeof *m->ids);
	}
	m->sizes[m->n] = (uint32_t)total;
	memcpy(m->ids[m->n], id, 16);
	m->n++;
	m->ntokens += total;
	return 0;
}

/* Writes every split's shards into tmpdir from the sorted keys. */
static void write_shards(void)
{
	const uint8_t *sp = spill_map;
	size_t i = 0;
	struct qn_err err;
	int split;

	for (split = QN_SHARD_TRAIN; split <= QN_SHARD_VAL && !failure; split++) {
		const char *prefix = split == QN_SHARD_VAL ? "val" : "train";
		struct qn_packer_opts po;
		struct qn_packer *pk = NULL;
		struct mm mm;
		int rc = 0;

		memset(&mm, 0, sizeof mm);
		mm.fd = -1;
		mm.split = split;
		mm.prefix = prefix;
		memset(&po, 0, sizeof po);
		po.dir = tmpdir;
		po.prefix = prefix;
		qn_shard_header_init(&po.proto, qn_tok_vocab_size(tok));
		po.proto.eot = qn_tok_eot(tok);
		qn_shard_id_parse(qn_tok_hash(tok), 32, po.proto.tok_hash);
		po.proto.split = split;
		po.shard_tokens = opt.shard_tokens;
		po.no_split = opt.no_split;
		po.shard_done = shard_done;
		po.ctx = &split;
		if (!opt.megatron && (rc = qn_packer_new(&po, &pk, &err)))
			fail(err.msg);
		for (; !failure && i < nkeys && keys[i].split == split; i++) {
			const struct key *k = &keys[i];
			const uint8_t *p = sp + k->off * (uint64_t)tbytes;

			if (qn_signalled) {
				char *m = qn_xasprintf("interrupted by %s", strsignal(qn_signalled));

				fail(m);
				free(m);
				break;
			}
			/* The store holds the tokens in the shard's width already. */
			if (!opt.megatron)
				rc = qn_packer_doc_raw(pk, k->id, p, k->n, &err);
			else
				rc = mm_doc(&mm, k->id, p, k->n, &err);
			if (rc)
				fail(err.msg);
		}
		if (!failure && (opt.megatron ? mm_close(&mm, &err) : qn_packer_finish(pk, &err)))
			fail(err.msg);
		qn_packer_free(pk);
		if (mm.fd >= 0)
			close(mm.fd);
		free(mm.name);
		free(mm.sizes);
		free(mm.ids);
		qn_buf_release(&mm.buf);
	}
}

/* Removes tmpdir and what is in it. */
static void remove_tmpdir(void)
{
	if (tmpdir)
		qn_remove_scratch_dir(tmpdir);
}

/* Removes the temporary directories of runs in DIR whose process is gone. */
static void remove_stale_tmpdirs(void)
{
	DIR *d = opendir(opt.output);
	struct dirent *e;
	char *keep = tmpdir;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		const char *p = e->d_name;
		char *end;
		long pid;

		if (strncmp(p, ".quern-shard-tmp.", 17))
			continue;
		errno = 0;
		pid = strtol(p + 17, &end, 10);
		if (errno || *end || pid <= 0 || pid == (long)getpid() ||
		    !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		tmpdir = qn_xasprintf("%s/%s", opt.output, p);
		remove_tmpdir();
		free(tmpdir);
	}
	tmpdir = keep;
	closedir(d);
}

/* A name this program writes: (train|val)_NNNNNN.(bin|qidx|idx). */
static int shard_name(const char *s)
{
	const char *p;
	int i;

	if (!strncmp(s, "train_", 6))
		p = s + 6;
	else if (!strncmp(s, "val_", 4))
		p = s + 4;
	else
		return 0;
	for (i = 0; i < 6; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return !strcmp(p + 6, ".bin") || !strcmp(p + 6, ".qidx") || !strcmp(p + 6, ".idx");
}

/* The companion of a shard: its .qidx, or its Megatron .idx. */
static char *companion(const char *name)
{
	size_t n = strlen(name);

	return qn_xasprintf("%.*s.%s", (int)(n - 4), name, opt.megatron ? "idx" : "qidx");
}

/*
 * Moves the shards from tmpdir into the output directory, shards.meta
 * last, then removes the shards an earlier run left that this one did
 * not write.
 */
static void publish(void)
{
	struct qn_buf mb = QN_BUF_INIT;
	struct qn_err err;
	DIR *d;
	struct dirent *e;
	size_t i;
	char *from, *to;

	qn_shard_meta_format(&meta, &mb);
	from = qn_xasprintf("%s/%s", tmpdir, QN_META_NAME);
	if (write_file(from, mb.data, mb.len, &err))
		fail(err.msg);
	free(from);
	qn_buf_release(&mb);
	for (i = 0; i < meta.nshards && !failure; i++) {
		char *names[2] = { qn_xstrdup(meta.shards[i].name), companion(meta.shards[i].name) };
		int k;

		for (k = 0; k < 2; k++) {
			from = qn_xasprintf("%s/%s", tmpdir, names[k]);
			to = qn_xasprintf("%s/%s", opt.output, names[k]);
			if (rename(from, to) < 0) {
				char *m = qn_xasprintf("%s: rename: %s", to, strerror(errno));

				fail(m);
				free(m);
			}
			free(from);
			free(to);
			free(names[k]);
		}
	}
	if (failure)
		return;
	/* Stale shards: matching our names but not written now. */
	if ((d = opendir(opt.output)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			int mine = 0;

			if (!shard_name(e->d_name))
				continue;
			for (i = 0; i < meta.nshards && !mine; i++) {
				char *c = companion(meta.shards[i].name);

				mine = !strcmp(e->d_name, meta.shards[i].name) || !strcmp(e->d_name, c);
				free(c);
			}
			if (!mine) {
				char *p = qn_xasprintf("%s/%s", opt.output, e->d_name);

				unlink(p);
				free(p);
			}
		}
		closedir(d);
	}
	from = qn_xasprintf("%s/%s", tmpdir, QN_META_NAME);
	to = qn_xasprintf("%s/%s", opt.output, QN_META_NAME);
	if (rename(from, to) < 0) {
		char *m = qn_xasprintf("%s: rename: %s", to, strerror(errno));

		fail(m);
		free(m);
	}
	free(from);
	free(to);
}

/* Records the published files and every piece's place in the manifest. */
static void record_outputs(void)
{
	struct qn_err err;
	size_t i;
	char **paths = qn_xcalloc(meta.nshards + 1, sizeof *paths);
	char *p;

	for (i = 0; i < meta.nshards && !failure; i++) {
		char *c = companion(meta.shards[i].name);

		paths[i] = qn_xasprintf("%s/%s", opt.output, meta.shards[i].name);
		p = qn_xasprintf("%s/%s", opt.output, c);
		if (qn_manifest_file(manifest, paths[i], QN_OUTPUT, &err) ||
		    qn_manifest_file(manifest, p, QN_OUTPUT, &err))
			fail(err.msg);
		free(p);
		free(c);
	}
	p = qn_xasprintf("%s/%s", opt.output, QN_META_NAME);
	if (!failure && qn_manifest_file(manifest, p, QN_OUTPUT, &err))
		fail(err.msg);
	free(p);
	for (i = 0; i < npieces && !failure; i++) {
		char hex[33];

		qn_shard_id_hex(pieces[i].id, hex);
		if (qn_manifest_shard_doc(manifest, paths[pieces[i].shard], hex, (int64_t)pieces[i].first,
					  (int64_t)pieces[i].count, &err))
			fail(err.msg);
	}
	for (i = 0; i < meta.nshards; i++)
		free(paths[i]);
	free(paths);
}

static void record_counters(char *const *inputs, int ninputs)
{
	int i;

	qn_manifest_count(manifest, "docs", (int64_t)cnt.docs);
	qn_manifest_count(manifest, "tokens", (int64_t)cnt.tokens);
	qn_manifest_count(manifest, "bytes", (int64_t)cnt.bytes);
	qn_manifest_count(manifest, "train_docs", (int64_t)cnt.split_docs[0]);
	qn_manifest_count(manifest, "train_tokens", (int64_t)cnt.split_tokens[0]);
	qn_manifest_count(manifest, "val_docs", (int64_t)cnt.split_docs[1]);
	qn_manifest_count(manifest, "val_tokens", (int64_t)cnt.split_tokens[1]);
	qn_manifest_count(manifest, "shards", (int64_t)meta.nshards);
	qn_manifest_count(manifest, "rejected_invalid_id", (int64_t)cnt.bad_id);
	qn_manifest_count(manifest, "rejected_tokenizer", (int64_t)cnt.tok_error);
	qn_manifest_count(manifest, "errors", (int64_t)cnt.errors);
	for (i = 0; i < ninputs; i++) {
		char *name = qn_xasprintf("tokens:%s", inputs[i]);

		qn_manifest_count(manifest, name, (int64_t)src_tokens[i]);
		free(name);
	}
}

static void usage(void)
{
	printf("usage: quern-shard [-m DB] -t TOKENIZER -o DIR [-j N] [-q] [--val-fraction F]\n"
	       "                   [--seed N] [--shard-tokens N] [--no-split] [--format llmc|megatron]\n"
	       "                   [--max-errors N] [--memory SIZE] IN...\n"
	       "       quern-shard inspect [-t TOKENIZER] [--docs] [--doc ID | --start N --count N | --all] FILE\n"
	       "       quern-shard verify DIR\n\n"
	       "Tokenizes document streams into training shards (llm.c's format, or\n"
	       "Megatron-LM's indexed dataset), a train and a validation split, with\n"
	       "every document's place recorded in a sidecar index and the manifest.\n\n"
	       "Options:\n"
	       "  -t, --tokenizer FILE    the tokenizer (tokenizer.json, .tiktoken, tiktoken JSON)\n"
	       "  -o, --output DIR        the shard directory (created if need be)\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -j, --threads N         tokenizer threads (default 0: all cores)\n"
	       "  -q, --quiet             no progress meter and no summary\n"
	       "      --val-fraction F    the share of documents in the val split, chosen by\n"
	       "                          a hash of the id (default 0.01)\n"
	       "      --seed N            the seed of the document order (default 0)\n"
	       "      --shard-tokens N    tokens per shard (default 100M; k, M, G: 10^3, 10^6, 10^9)\n"
	       "      --no-split          never cut a document at a shard boundary\n"
	       "      --format F          llmc (default) or megatron\n"
	       "      --max-errors N      fail after more than N bad documents (default 1000)\n"
	       "      --memory SIZE       keep tokens in memory up to SIZE, then spill them to\n"
	       "                          a file in DIR (default 1G; k, M, G: powers of 1024)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-shard(1) and quern-shard(5).\n");
}

static int cmd_shard(int argc, char **argv)
{
	enum { O_VAL = 256, O_SEED, O_SHARD_TOKENS, O_NO_SPLIT, O_FORMAT, O_MAX_ERRORS, O_MEMORY };
	static const struct option longopts[] = {
		{ "tokenizer", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "val-fraction", required_argument, NULL, O_VAL },
		{ "seed", required_argument, NULL, O_SEED },
		{ "shard-tokens", required_argument, NULL, O_SHARD_TOKENS },
		{ "no-split", no_argument, NULL, O_NO_SPLIT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct qn_config cfg;
	struct qn_err err;
	struct batch *b;
	char **inputs, *end;
	int c, i, ninputs, stdin_seen = 0;
	struct stat st;
	char vf[32];

	opt.val_fraction = VAL_FRACTION_DEFAULT;
	opt.shard_tokens = SHARD_TOKENS_DEFAULT;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	opt.memory = MEMORY_DEFAULT;
	opt.format = "llmc";
	while ((c = getopt_long(argc, argv, "t:o:m:j:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': opt.tokenizer = optarg; break;
		case 'o': opt.output = optarg; break;
		case 'm': opt.manifest = optarg; break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case 'q': opt.quiet = 1; break;
		case O_VAL:
			errno = 0;
			opt.val_fraction = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.val_fraction >= 0 && opt.val_fraction <= 1))
				qn_usage_error("invalid fraction '%s' for --val-fraction (0 to 1)", optarg);
			break;
		case O_SEED:
			if (parse_count(optarg, &opt.seed))
				qn_usage_error("invalid seed '%s'", optarg);
			break;
		case O_SHARD_TOKENS:
			if (parse_count(optarg, &opt.shard_tokens) || opt.shard_tokens < 2 ||
			    opt.shard_tokens > QN_SHARD_MAX_TOKENS)
				qn_usage_error("invalid count '%s' for --shard-tokens (2 to %u)", optarg,
					       QN_SHARD_MAX_TOKENS);
			break;
		case O_NO_SPLIT: opt.no_split = 1; break;
		case O_FORMAT:
			if (strcmp(optarg, "llmc") && strcmp(optarg, "megatron"))
				qn_usage_error("invalid format '%s' (llmc or megatron)", optarg);
			opt.format = optarg;
			break;
		case O_MAX_ERRORS:
			errno = 0;
			opt.max_errors = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.max_errors < 0)
				qn_usage_error("invalid count '%s' for --max-errors", optarg);
			break;
		case O_MEMORY:
			if (qn_parse_size(optarg, &opt.memory) || opt.memory > ((uint64_t)1 << 46))
				qn_usage_error("invalid size '%s' for --memory", optarg);
			break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	opt.megatron = !strcmp(opt.format, "megatron");
	if (!opt.threads)
		opt.threads = qn_ncores();
	inputs = argv + optind;
	ninputs = argc - optind;
	if (!opt.tokenizer)
		qn_usage_error("no tokenizer given (-t TOKENIZER)");
	if (!opt.output)
		qn_usage_error("no output directory given (-o DIR)");
	if (ninputs < 1)
		qn_usage_error("no input given");
	if (ninputs > 65535)
		qn_usage_error("more than 65535 inputs");
	for (i = 0; i < ninputs; i++)
		if (!strcmp(inputs[i], "-") && stdin_seen++)
			qn_usage_error("'-' (stdin) given more than once");

	if (qn_tok_load(opt.tokenizer, &tok, &err))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (qn_tok_eot(tok) < 0)
		qn_errx(QN_EXIT_FAIL, "%s: the tokenizer has no end-of-text token (<|endoftext|>) to put between documents",
			opt.tokenizer);
	tbytes = qn_tok_vocab_size(tok) <= 65536 ? 2 : 4;
	if (mkdir(opt.output, 0777) < 0 && errno != EEXIST)
		qn_errx(QN_EXIT_FAIL, "%s: %s", opt.output, strerror(errno));
	if (stat(opt.output, &st) < 0 || !S_ISDIR(st.st_mode))
		qn_errx(QN_EXIT_FAIL, "%s: not a directory", opt.output);
	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);

	qn_config_init(&cfg);
	qn_config_str(&cfg, "tokenizer", opt.tokenizer);
	qn_config_str(&cfg, "tokenizer_hash", qn_tok_hash(tok));
	qn_config_str(&cfg, "output", opt.output);
	qn_config_str(&cfg, "manifest", qn_manifest_path(opt.manifest));
	qn_config_int(&cfg, "threads", opt.threads);
	qn_config_bool(&cfg, "quiet", opt.quiet);
	snprintf(vf, sizeof vf, "%.17g", opt.val_fraction);
	qn_config_str(&cfg, "val_fraction", vf);
	qn_config_int(&cfg, "seed", (int64_t)opt.seed);
	qn_config_int(&cfg, "shard_tokens", (int64_t)opt.shard_tokens);
	qn_config_bool(&cfg, "no_split", opt.no_split);
	qn_config_str(&cfg, "format", opt.format);
	qn_config_int(&cfg, "max_errors", opt.max_errors);
	qn_config_int(&cfg, "memory", (int64_t)opt.memory);
	if (qn_manifest_run_begin(manifest, "quern-shard", qn_cli_argc, qn_cli_argv,
				  qn_config_json(&cfg), &err) < 0) {
		qn_config_release(&cfg);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	qn_config_release(&cfg);
	/* The tokenizer is an input too: lineage runs from a shard to it. */
	if (qn_manifest_file(manifest, opt.tokenizer, QN_INPUT, &err) < 0) {
		qn_manifest_run_end(manifest, 0, err.msg, NULL);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}

	memset(&meta, 0, sizeof meta);
	snprintf(meta.format, sizeof meta.format, "%s", opt.format);
	meta.vocab_size = qn_tok_vocab_size(tok);
	meta.eot = qn_tok_eot(tok);
	snprintf(meta.tok_hash, sizeof meta.tok_hash, "%s", qn_tok_hash(tok));
	meta.token_bytes = tbytes;
	meta.seed = opt.seed;
	meta.val_fraction = opt.val_fraction;
	meta.shard_tokens = opt.shard_tokens;
	meta.no_split = opt.no_split || opt.megatron;

	remove_stale_tmpdirs();
	tmpdir = qn_xasprintf("%s/.quern-shard-tmp.%ld", opt.output, (long)getpid());
	if (mkdir(tmpdir, 0777) < 0) {
		char *m = qn_xasprintf("%s: %s", tmpdir, strerror(errno));

		free(tmpdir);
		tmpdir = NULL;
		fail(m);
		free(m);
	}
	if (!failure && opt.memory) {
		arena = mmap(NULL, (size_t)opt.memory, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (arena == MAP_FAILED)
			arena = NULL;
		else
			madvise(arena, (size_t)opt.memory, MADV_HUGEPAGE);	/* fewer page faults */
	}
	if (!failure && !arena)
		start_spill();
	src_tokens = qn_xcalloc((size_t)ninputs, sizeof *src_tokens);
	encs = qn_xcalloc((size_t)opt.threads, sizeof *encs);
	for (i = 0; i < opt.threads; i++)
		encs[i] = qn_tok_enc_new(tok);
	pool = qn_pool_new(opt.threads, work, NULL, 0);
	qn_progress_init(&progress, stderr, !opt.quiet, "docs", 0);
	rq.inputs = inputs;
	rq.ninputs = ninputs;
	rq.last = ninputs - 1;
	rq.in = qn_xcalloc((size_t)ninputs, sizeof *rq.in);
	if (!failure) {
		int nreaders = (opt.threads + READER_SHARE - 1) / READER_SHARE, cur = 0;
		pthread_t *readers;

		if (nreaders > ninputs)
			nreaders = ninputs;
		readers = qn_xcalloc((size_t)nreaders, sizeof *readers);
		for (i = 0; i < nreaders; i++) {
			int e = pthread_create(&readers[i], NULL, reader_main, NULL);

			if (e)
				qn_errx(QN_EXIT_FAIL, "cannot start a reader thread: %s", strerror(e));
		}
		while (!failure && cur < ninputs) {
			b = rq_get(cur);
			if (b->eoi || b->fatal)
				cur++;
			take(b, inputs);
		}
		rq_stop(readers, nreaders);
		free(readers);
	}
	free(rq.in);
	while ((b = qn_pool_next(pool)) != NULL) {
		if (failure)
			batch_free(b);
		else
			consume(b, inputs);
	}
	qn_pool_free(pool);
	qn_progress_end(&progress);
	while (nspare)
		batch_destroy(spare[--nspare]);
	if (!failure) {
		meta.docs[0] = cnt.split_docs[0];
		meta.docs[1] = cnt.split_docs[1];
		map_spill();
	}
	if (!failure) {
		qsort(keys, nkeys, sizeof *keys, cmp_key);
		write_shards();
	}
	if (spill_map && spilled)
		munmap((void *)spill_map, spill_map_len);
	if (arena)
		munmap(arena, (size_t)opt.memory);
	if (spill_fd >= 0)
		close(spill_fd);
	if (!failure)
		publish();
	remove_tmpdir();
	if (!failure)
		record_outputs();
	record_counters(inputs, ninputs);
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		fail(err.msg);
		qn_warnx("%s", failure);
	}
	if (!failure && !opt.quiet)
		fprintf(stderr, "%s: %" PRIu64 " documents, %" PRIu64 " tokens (train %" PRIu64 " documents, %" PRIu64
			" tokens; val %" PRIu64 ", %" PRIu64 ") in %zu shards; %" PRIu64 " rejected\n",
			qn_progname, cnt.docs, cnt.tokens, cnt.split_docs[0], cnt.split_tokens[0],
			cnt.split_docs[1], cnt.split_tokens[1], meta.nshards, cnt.bad_id + cnt.tok_error);
	qn_manifest_close(manifest);
	for (i = 0; i < opt.threads; i++)
		qn_tok_enc_free(encs[i]);
	free(encs);
	qn_tok_free(tok);
	free(spill_buf);
	free(src_tokens);
	free(keys);
	free(pieces);
	free(tmpdir);
	qn_shard_meta_release(&meta);
	c = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	return qn_finish_stdout(c);
}

/* ---- inspect ---- */

/* Prints ids[0..n) as text (with -t) or as numbers. */
static int print_tokens(const struct qn_shard *s, uint64_t first, uint64_t n, struct qn_err *err)
{
	uint64_t i;

	if (!tok) {
		for (i = 0; i < n; i++)
			printf("%s%" PRIu32, i ? " " : "", qn_shard_token(s, first + i));
		putchar('\n');
		return 0;
	}
	{
		struct qn_buf out = QN_BUF_INIT;
		uint32_t *ids = qn_xmalloc((n ? n : 1) * sizeof *ids);
		int rc;

		for (i = 0; i < n; i++)
			ids[i] = qn_shard_token(s, first + i);
		rc = qn_tok_decode(tok, ids, n, &out, err);
		if (!rc)
			fwrite(out.data ? out.data : "", 1, out.len, stdout);
		free(ids);
		qn_buf_release(&out);
		return rc;
	}
}

static int cmd_inspect(int argc, char **argv)
{
	enum { O_DOC = 256, O_START, O_COUNT, O_DOCS, O_ALL };
	static const struct option longopts[] = {
		{ "tokenizer", required_argument, NULL, 't' },
		{ "doc", required_argument, NULL, O_DOC },
		{ "docs", no_argument, NULL, O_DOCS },
		{ "start", required_argument, NULL, O_START },
		{ "count", required_argument, NULL, O_COUNT },
		{ "all", no_argument, NULL, O_ALL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *doc = NULL, *path;
	uint64_t start = 0, count = 0, i;
	int c, list = 0, window = 0, found = 0, all = 0;
	struct qn_shard s;
	struct qn_err err;
	char hex[33];
	uint8_t id[16];

	while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': opt.tokenizer = optarg; break;
		case O_DOC: doc = optarg; break;
		case O_DOCS: list = 1; break;
		case O_START:
			if (parse_count(optarg, &start))
				qn_usage_error("invalid position '%s' for --start", optarg);
			window = 1;
			break;
		case O_COUNT:
			if (parse_count(optarg, &count))
				qn_usage_error("invalid count '%s' for --count", optarg);
			window = 1;
			break;
		case O_ALL: all = window = 1; break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		default: qn_usage_error("invalid option");
		}
	}
	if (optind + 1 != argc)
		qn_usage_error("inspect takes one shard FILE");
	if (all && (start || count))
		qn_usage_error("--all and --start/--count exclude each other");
	if (doc && window)
		qn_usage_error("--doc and --start/--count exclude each other");
	if (doc && qn_shard_id_parse(doc, strlen(doc), id))
		qn_usage_error("'%s' is not a document id (32 lowercase hex digits)", doc);
	path = argv[optind];
	if (qn_shard_open(&s, path, &err))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (opt.tokenizer) {
		if (qn_tok_load(opt.tokenizer, &tok, &err)) {
			qn_shard_close(&s);
			qn_errx(QN_EXIT_FAIL, "%s", err.msg);
		}
		qn_shard_id_hex(s.h.tok_hash, hex);
		if (s.h.quern && strcmp(hex, qn_tok_hash(tok)))
			qn_warnx("%s: written with tokenizer %s, decoding with %s (%s)", path, hex, qn_tok_hash(tok),
				 opt.tokenizer);
	}
	if (doc) {
		for (i = 0; i < s.ndocs; i++) {
			uint64_t first = s.docs[i].first, n = s.docs[i].count;

			if (memcmp(s.docs[i].id, id, 16))
				continue;
			if (!(s.docs[i].flags & QN_DOC_CONT) && s.h.eot >= 0) {
				first++;	/* the EOT before the document */
				n--;
			}
			if (print_tokens(&s, first, n, &err)) {
				qn_shard_close(&s);
				qn_errx(QN_EXIT_FAIL, "%s: %s", path, err.msg);
			}
			found = 1;
		}
		qn_shard_close(&s);
		if (!found)
			qn_errx(QN_EXIT_FAIL, "%s: no document %s in this shard", path, doc);
	} else if (window) {
		if (all)
			count = s.h.ntokens;
		else if (!count)
			count = 64;
		if (start > s.h.ntokens || count > s.h.ntokens - start) {
			uint64_t nt = s.h.ntokens;

			qn_shard_close(&s);
			qn_errx(QN_EXIT_FAIL, "%s: tokens %" PRIu64 "..%" PRIu64 ": past the shard's %" PRIu64 " tokens",
				path, start, start + count, nt);
		}
		if (print_tokens(&s, start, count, &err)) {
			qn_shard_close(&s);
			qn_errx(QN_EXIT_FAIL, "%s: %s", path, err.msg);
		}
		qn_shard_close(&s);
	} else {
		uint64_t whole = 0, cont = 0, more = 0;

		for (i = 0; i < s.ndocs; i++) {
			whole += !(s.docs[i].flags & QN_DOC_CONT);
			cont += !!(s.docs[i].flags & QN_DOC_CONT);
			more += !!(s.docs[i].flags & QN_DOC_MORE);
		}
		printf("file %s\nmagic %" PRIu32 "\nversion %" PRIu32 "\ntoken_bytes %d\ntokens %" PRIu64 "\n",
		       path, s.h.magic, s.h.version, s.h.token_bytes, s.h.ntokens);
		if (s.h.quern) {
			qn_shard_id_hex(s.h.tok_hash, hex);
			printf("vocab_size %" PRIu32 "\neot %" PRId64 "\ntokenizer_hash %s\nsplit %s\nnumber %" PRIu32 "\n",
			       s.h.vocab_size, s.h.eot, hex, s.h.split == QN_SHARD_VAL ? "val" : "train", s.h.number);
		}
		if (s.idx_path && s.ndocs)
			printf("index %s\nentries %" PRIu64 "\ndocuments_starting %" PRIu64 "\ncontinued_from_previous %" PRIu64
			       "\ncontinuing_in_next %" PRIu64 "\n", s.idx_path, s.ndocs, whole, cont, more);
		if (list)
			for (i = 0; i < s.ndocs; i++) {
				qn_shard_id_hex(s.docs[i].id, hex);
				printf("doc %s %" PRIu64 " %" PRIu32 "%s%s\n", hex, s.docs[i].first, s.docs[i].count,
				       (s.docs[i].flags & QN_DOC_CONT) ? " continued" : "",
				       (s.docs[i].flags & QN_DOC_MORE) ? " more" : "");
			}
		qn_shard_close(&s);
	}
	qn_tok_free(tok);
	return qn_finish_stdout(QN_EXIT_OK);
}

/* ---- verify ---- */

static int bad;

static void verr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void verr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", qn_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	bad++;
}

/* Checks a Megatron shard and its .idx. */
static void verify_megatron(const char *dir, const struct qn_shard_meta *m, const struct qn_meta_shard *ms)
{
	char *bin = qn_xasprintf("%s/%s", dir, ms->name);
	char *idx = qn_xasprintf("%s/%.*s.idx", dir, (int)strlen(ms->name) - 4, ms->name);
	struct qn_buf ib = QN_BUF_INIT;
	struct qn_mmidx x;
	struct qn_err err;
	struct stat st;
	FILE *f;
	int fd;
	uint64_t i;

	if (stat(bin, &st) < 0) {
		verr("%s: %s", bin, strerror(errno));
		goto out;
	}
	f = fopen(idx, "rb");
	if (!f) {
		verr("%s: %s", idx, strerror(errno));
		goto out;
	}
	for (;;) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof buf, f);

		if (!n)
			break;
		qn_buf_append(&ib, buf, n);
	}
	fclose(f);
	if (qn_mmidx_parse(ib.data ? ib.data : "", ib.len, idx, (uint64_t)st.st_size, &x, &err)) {
		verr("%s", err.msg);
		goto out;
	}
	if (x.token_bytes != m->token_bytes)
		verr("%s: token size: expected %d bytes (shards.meta), found %d", idx, m->token_bytes, x.token_bytes);
	if ((uint64_t)st.st_size / (uint64_t)x.token_bytes != ms->tokens || x.nseq != ms->docs)
		verr("%s: expected %" PRIu64 " tokens in %" PRIu64 " sequences (shards.meta), found %" PRIu64 " in %" PRIu64,
		     bin, ms->tokens, ms->docs, (uint64_t)st.st_size / (uint64_t)x.token_bytes, x.nseq);
	fd = open(bin, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && st.st_size > 0) {
		const uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);

		if (p != MAP_FAILED) {
			uint64_t nt = (uint64_t)st.st_size / (uint64_t)x.token_bytes;

			for (i = 0; i < nt; i++) {
				uint32_t t = x.token_bytes == 2 ? (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8
								: qn_le32(p + 4 * i);

				if (t >= m->vocab_size) {
					verr("%s: token %" PRIu64 ": expected an id below %" PRIu32 ", found %" PRIu32,
					     bin, i, m->vocab_size, t);
					break;
				}
			}
			munmap((void *)p, (size_t)st.st_size);
		}
	}
	if (fd >= 0)
		close(fd);
out:
	qn_buf_release(&ib);
	free(bin);
	free(idx);
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct qn_shard_meta m;
	struct qn_err err;
	const char *dir;
	uint64_t docs[2] = { 0, 0 }, tokens[2] = { 0, 0 };
	uint32_t number[2] = { 0, 0 };
	uint8_t last_id[2][16];
	int last_more[2] = { 0, 0 }, c;
	size_t i;
	uint8_t hash[16];
	DIR *d;
	struct dirent *e;

	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q': opt.quiet = 1; break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		default: qn_usage_error("invalid option");
		}
	}
	if (optind + 1 != argc)
		qn_usage_error("verify takes one shard DIR");
	dir = argv[optind];
	if (qn_shard_meta_read(dir, &m, &err))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	memset(hash, 0, sizeof hash);
	if (m.tok_hash[0])
		qn_shard_id_parse(m.tok_hash, 32, hash);
	for (i = 0; i < m.nshards; i++) {
		const struct qn_meta_shard *ms = &m.shards[i];
		int sp = ms->split, errs = bad;
		char want[32];

		snprintf(want, sizeof want, "%s_%06" PRIu32 ".bin", sp == QN_SHARD_VAL ? "val" : "train", number[sp]);
		if (strcmp(ms->name, want))
			verr("%s/%s: shard %zu: expected the name %s", dir, QN_META_NAME, i, want);
		number[sp]++;
		if (!strcmp(m.format, "megatron")) {
			verify_megatron(dir, &m, ms);
			docs[sp] += ms->docs;
			tokens[sp] += ms->tokens;
		} else {
			struct qn_shard s;
			char *path = qn_xasprintf("%s/%s", dir, ms->name);

			if (qn_shard_open(&s, path, &err)) {
				verr("%s", err.msg);
				free(path);
				continue;
			}
			if (!s.h.quern)
				verr("%s: header: expected quern's fields, found a plain llm.c header", path);
			else if (s.h.vocab_size != m.vocab_size || s.h.eot != m.eot || s.h.token_bytes != m.token_bytes ||
				 memcmp(s.h.tok_hash, hash, 16))
				verr("%s: tokenizer: expected vocabulary %" PRIu32 ", end-of-text %" PRId64 " and hash %s as in %s, found others",
				     path, m.vocab_size, m.eot, m.tok_hash, QN_META_NAME);
			if (s.h.quern && (s.h.split != sp || s.h.number != number[sp] - 1))
				verr("%s: expected %s shard %" PRIu32 ", found %s shard %" PRIu32, path,
				     sp ? "val" : "train", number[sp] - 1, s.h.split ? "val" : "train", s.h.number);
			if (s.h.ntokens != ms->tokens || s.ndocs != ms->docs)
				verr("%s: expected %" PRIu64 " tokens and %" PRIu64 " index entries (%s), found %" PRIu64 " and %" PRIu64,
				     path, ms->tokens, ms->docs, QN_META_NAME, s.h.ntokens, s.ndocs);
			if (qn_shard_check_tokens(&s, &err))
				verr("%s", err.msg);
			if (s.ndocs) {
				int cont = !!(s.docs[0].flags & QN_DOC_CONT);

				if (cont != last_more[sp] || (cont && memcmp(last_id[sp], s.docs[0].id, 16)))
					verr("%s: first document: expected %s, found %s", path,
					     last_more[sp] ? "the one the previous shard cut" : "a new document",
					     cont ? "a continued one" : "a new one");
				if (m.no_split && (s.docs[0].flags & QN_DOC_CONT))
					verr("%s: a cut document in a set written with no_split", path);
				last_more[sp] = !!(s.docs[s.ndocs - 1].flags & QN_DOC_MORE);
				memcpy(last_id[sp], s.docs[s.ndocs - 1].id, 16);
				for (uint64_t j = 0; j < s.ndocs; j++)
					docs[sp] += !(s.docs[j].flags & QN_DOC_CONT);
			}
			tokens[sp] += s.h.ntokens;
			qn_shard_close(&s);
			free(path);
		}
		if (!opt.quiet && bad == errs)
			printf("ok %s\n", ms->name);
	}
	for (c = 0; c < 2; c++) {
		if (last_more[c])
			verr("%s: the last %s shard cuts a document that no shard continues", dir, c ? "val" : "train");
		if (docs[c] != m.docs[c])
			verr("%s/%s: %s documents: expected %" PRIu64 ", found %" PRIu64 " in the shards",
			     dir, QN_META_NAME, c ? "val" : "train", m.docs[c], docs[c]);
	}
	/* Shard files the metadata does not list. */
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			int listed = 0;

			if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
				continue;
			for (i = 0; i < m.nshards && !listed; i++)
				listed = !strcmp(m.shards[i].name, e->d_name);
			if (!listed)
				verr("%s/%s: not listed in %s", dir, e->d_name, QN_META_NAME);
		}
		closedir(d);
	}
	if (!opt.quiet)
		printf("%s: %zu shards; train %" PRIu64 " documents, %" PRIu64 " tokens; val %" PRIu64 " documents, %" PRIu64
		       " tokens; %d error%s\n", dir, m.nshards, docs[0], tokens[0], docs[1], tokens[1], bad, bad == 1 ? "" : "s");
	qn_shard_meta_release(&m);
	return qn_finish_stdout(bad ? QN_EXIT_FAIL : QN_EXIT_OK);
}

int main(int argc, char **argv)
{
	qn_cli_init(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "inspect"))
		return cmd_inspect(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	qn_catch_signals();
	return cmd_shard(argc, argv);
}

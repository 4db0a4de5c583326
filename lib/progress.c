/*
 * progress.c: the progress meter (see progress.h).
 */
#include <time.h>
#include <unistd.h>

#include "progress.h"

double qn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void qn_progress_init(struct qn_progress *p, FILE *out, int enabled,
		      const char *what, uint64_t total_bytes)
{
	p->out = enabled && out && isatty(fileno(out)) ? out : NULL;
	p->what = what;
	p->total_bytes = total_bytes;
	p->items = p->bytes = 0;
	p->t0 = p->last = qn_now();
	p->drawn = 0;
}

static void draw(struct qn_progress *p, double now)
{
	double dt = now - p->t0 > 1e-6 ? now - p->t0 : 1e-6;
	double mbs = p->bytes / dt / 1e6;

	fprintf(p->out, "\r%llu %s, %.0f/s, %.1f MB/s",
		(unsigned long long)p->items, p->what, p->items / dt, mbs);
	if (p->total_bytes && p->bytes <= p->total_bytes) {
		double frac = (double)p->bytes / (double)p->total_bytes;
		double eta = frac > 0 ? dt * (1 - frac) / frac : 0;

		fprintf(p->out, ", %.0f%%, ETA %.0fs", frac * 100, eta);
	}
	fputs("\033[K", p->out);
	fflush(p->out);
	p->drawn = 1;
}

void qn_progress_update(struct qn_progress *p, uint64_t items, uint64_t bytes)
{
	double now;

	p->items = items;
	p->bytes = bytes;
	if (!p->out)
		return;
	now = qn_now();
	if (now - p->last < 0.25)
		return;
	p->last = now;
	draw(p, now);
}

void qn_progress_end(struct qn_progress *p)
{
	if (!p->out)
		return;
	draw(p, qn_now());
	fputc('\n', p->out);
	fflush(p->out);
	p->out = NULL;
}

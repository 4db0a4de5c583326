/*
 * progress.h: the one-line progress meter.
 *
 * Programs show it on stderr when stderr is a terminal and -q was not
 * given: items, items/s, MB/s, and the percentage and ETA when the total
 * byte count is known.  Updates are cheap to call often: the line is
 * redrawn at most a few times a second.
 */
#ifndef QN_PROGRESS_H
#define QN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct qn_progress {
	FILE *out;		/* NULL: disabled */
	const char *what;	/* "docs", "files" */
	uint64_t total_bytes;	/* 0: unknown */
	uint64_t items, bytes;
	double t0, last;
	int drawn;
};

/*
 * Starts a meter on out if enabled and out is a terminal.  total_bytes is
 * the expected byte count (0 if unknown).
 */
void qn_progress_init(struct qn_progress *p, FILE *out, int enabled,
		      const char *what, uint64_t total_bytes);
/* Sets the counts so far and redraws if it is time. */
void qn_progress_update(struct qn_progress *p, uint64_t items, uint64_t bytes);
/* Draws the final state and ends the line. */
void qn_progress_end(struct qn_progress *p);

/* Seconds on a monotonic clock. */
double qn_now(void);

#endif

/*
 * t_tok_train.c: BPE training against brute force, and the word map.
 *
 * Random words over small alphabets (so pairs repeat, tie often, and
 * merges overlap as in "aaaa" and "abab") with random counts, some past
 * 2^32: the incremental trainer must choose exactly the merges, results
 * and counts of the reference that recounts every pair after each merge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "bpe.h"
#include "tok_impl.h"

static int same_bpe(const struct qn_bpe *x, const struct qn_bpe *y)
{
	if (x->ntok != y->ntok || x->nmerges != y->nmerges)
		return 0;
	for (size_t i = 0; i < x->nmerges; i++)
		if (x->merges[2 * i] != y->merges[2 * i] || x->merges[2 * i + 1] != y->merges[2 * i + 1] ||
		    x->result[i] != y->result[i] || x->mcount[i] != y->mcount[i]) {
			printf("#   merge %zu: (%u %u)->%u x%llu vs (%u %u)->%u x%llu\n", i, x->merges[2 * i],
			       x->merges[2 * i + 1], x->result[i], (unsigned long long)x->mcount[i],
			       y->merges[2 * i], y->merges[2 * i + 1], y->result[i],
			       (unsigned long long)y->mcount[i]);
			return 0;
		}
	return !memcmp(x->off, y->off, (x->ntok + 1) * sizeof *x->off) &&
	       !memcmp(x->blob, y->blob, x->off[x->ntok]);
}

static void random_words(struct qn_wmap *m, int nwords, const char *alpha, int maxlen, int big)
{
	size_t al = strlen(alpha);
	char w[64];

	for (int i = 0; i < nwords; i++) {
		int n = 1 + (int)(tap_rand() % (uint64_t)maxlen);

		for (int k = 0; k < n; k++)
			w[k] = alpha[tap_rand() % al];
		uint64_t c = 1 + tap_rand() % 20;
		if (big && tap_rand() % 10 == 0)
			c += 5000000000ULL;
		qn_wmap_add(m, w, (uint32_t)n, c);
	}
}

int main(void)
{
	int bad = 0, rounds = 0;

	for (int r = 0; r < 200; r++) {
		struct qn_wmap m;
		struct qn_bpe x, y;
		static const char *alphas[] = { "ab", "abc", "abcd", "aab", "abcdefgh" };
		uint32_t maxtok = 256 + 1 + (uint32_t)(tap_rand() % 60);
		uint64_t minc = tap_rand() % 3;

		qn_wmap_init(&m);
		random_words(&m, 1 + (int)(tap_rand() % 40), alphas[r % 5], 1 + (int)(tap_rand() % 12), r % 2);
		qn_bpe_train(&m, maxtok, minc, &x, NULL, NULL);
		qn_bpe_train_ref(&m, maxtok, minc, &y);
		if (!same_bpe(&x, &y)) {
			printf("#   round %d differs\n", r);
			bad = 1;
		}
		rounds++;
		qn_bpe_release(&x);
		qn_bpe_release(&y);
		qn_wmap_release(&m);
		if (bad)
			break;
	}
	ok(!bad, "%d random word sets: the incremental trainer's merges are the reference's", rounds);

	/* ids are dense; two ids never have the same bytes */
	{
		struct qn_wmap m;
		struct qn_bpe x;
		int dup = 0, fresh = 0;

		qn_wmap_init(&m);
		qn_wmap_add(&m, "abc", 3, 10);
		qn_wmap_add(&m, "xbc", 3, 9);
		qn_wmap_add(&m, "ab", 2, 8);
		qn_wmap_add(&m, "abx", 3, 1);
		qn_bpe_train(&m, 300, 1, &x, NULL, NULL);
		for (size_t i = 0; i < x.nmerges; i++)
			fresh += x.result[i] == 256 + (uint32_t)fresh;
		ok(x.nmerges > 0 && x.ntok == 256 + (uint32_t)fresh, "ids: 256 bytes, then one per merge that makes new bytes");
		for (uint32_t i = 0; i < x.ntok; i++)
			for (uint32_t j = i + 1; j < x.ntok; j++)
				if (x.off[i + 1] - x.off[i] == x.off[j + 1] - x.off[j] &&
				    !memcmp(x.blob + x.off[i], x.blob + x.off[j], x.off[i + 1] - x.off[i]))
					dup = -1000;
		ok(dup >= 0, "no two ids have the same bytes");
		qn_bpe_release(&x);
		qn_wmap_release(&m);
	}

	/* the word map: counts, merge, prune */
	{
		struct qn_wmap a, b;
		uint64_t words = 0, occ = 0, k;
		char w[16];

		qn_wmap_init(&a);
		qn_wmap_init(&b);
		for (int i = 0; i < 5000; i++) {
			int n = snprintf(w, sizeof w, "w%d", i % 1000);

			qn_wmap_add(i % 2 ? &a : &b, w, (uint32_t)n, (uint64_t)(i % 1000 < 100 ? 100 : 1));
		}
		qn_wmap_merge(&a, &b);
		is_int(a.n, 1000, "merged map: 1000 words");
		uint64_t sum = 0;
		for (size_t e = 0; e < a.n; e++)
			sum += a.count[e];
		is_int(sum, 500 * 100 + 4500, "merged map: counts add up");
		k = qn_wmap_prune(&a, 300, &words, &occ);
		ok(k == 5 && a.n == 100, "prune to 300: threshold %llu leaves %zu words", (unsigned long long)k, a.n);
		ok(words == 900 && occ == 4500, "prune counts what it dropped (%llu words, %llu occurrences)",
		   (unsigned long long)words, (unsigned long long)occ);
		is_int(qn_wmap_prune(&a, 300, &words, &occ), 0, "no prune under the bound");
		qn_wmap_release(&a);
		qn_wmap_release(&b);
	}
	return done_testing();
}

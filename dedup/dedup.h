/*
 * dedup.h: the parts of quern-dedup, shared by the program, its map/reduce
 * subcommands, the unit tests, the fuzz targets and the benchmark.
 *
 * The pipeline is the same whether it runs in one process or on many
 * machines:
 *
 *   sign     each document -> its exact hash (xxh3-128 of the normalized
 *            text), its MinHash signature (bands * rows 32-bit minima over
 *            shingle hashes), optionally its line hashes and shingle set;
 *            written to a signature file, one per input part;
 *   cluster  every signature file, in order -> band records sorted
 *            (externally when they pass the memory budget), union-find over
 *            equal buckets and equal exact hashes, a survivor per cluster,
 *            optional verification; written as a duplicates list;
 *   filter   each input part with the duplicates list -> the documents
 *            that survive, with repeated lines removed.
 *
 * The one-shot command runs the same three functions, so its output is the
 * map/reduce output byte for byte.
 */
#ifndef QN_DEDUP_H
#define QN_DEDUP_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "err.h"
#include "hash.h"

/* ---- parameters (recorded in every signature file) ---- */

enum { QN_NORM_NFC = 1, QN_NORM_LOWER = 2, QN_NORM_SPACE = 4 };
enum { QN_SHINGLE_WORD = 0, QN_SHINGLE_CHAR = 1 };
enum { QN_SIG_LINES = 1, QN_SIG_SHINGLES = 2 };	/* optional record parts */

#define QN_DEDUP_MAX_HASHES 1024

struct qn_dedup_params {
	int bands, rows;	/* bands * rows <= QN_DEDUP_MAX_HASHES */
	int shingle;		/* QN_SHINGLE_* */
	int ngram;		/* words or characters per shingle */
	int norm;		/* QN_NORM_* bits */
	int parts;		/* QN_SIG_* bits: what the records carry */
	uint64_t seed;
};

void qn_dedup_params_default(struct qn_dedup_params *p);
/* 0 if a and b give comparable signatures (everything but parts). */
int qn_dedup_params_cmp(const struct qn_dedup_params *a,
			const struct qn_dedup_params *b);

/* ---- signing (minhash.c) ---- */

struct qn_signer;

struct qn_signer *qn_signer_new(const struct qn_dedup_params *p);
void qn_signer_free(struct qn_signer *s);

/* What one document comes to. */
struct qn_docsig {
	struct qn_hash128 exact;	/* of the normalized text */
	uint32_t *sig;			/* bands * rows minima; UINT32_MAX: no shingle */
	uint64_t nshingles;		/* distinct or not: shingles hashed */
	uint64_t *lines;		/* sorted distinct hashes of normalized non-blank lines */
	uint32_t nlines;
	uint64_t *shingles;		/* sorted distinct shingle hashes (QN_SIG_SHINGLES) */
	uint32_t nshingle_set;
};

/*
 * Signs text[0..n) (valid UTF-8) into out, whose arrays belong to s and
 * stay valid until the next call.
 */
void qn_signer_sign(struct qn_signer *s, const char *text, size_t n,
		    struct qn_docsig *out);
/*
 * Normalizes text as the parameters say, into out (UTF-8): what the exact
 * hash and the line hashes are taken of.
 */
void qn_signer_normalize(struct qn_signer *s, const char *text, size_t n,
			 struct qn_buf *out);
/*
 * The word hashes of text (normalized first): ASCII text by the short
 * path, other text by ICU; _icu always by ICU.  *words belongs to s.
 */
size_t qn_signer_words(struct qn_signer *s, const char *text, size_t n,
		       const uint64_t **words);
size_t qn_signer_words_icu(struct qn_signer *s, const char *text, size_t n,
			   const uint64_t **words);
/* The hash of one line after normalization; 0 for a blank line. */
uint64_t qn_signer_line_hash(struct qn_signer *s, const char *line, size_t n);

/* The share of equal positions of two signatures (0 if either is empty). */
double qn_sig_similarity(const uint32_t *a, const uint32_t *b, int k);
/* The exact Jaccard index of two sorted distinct hash sets. */
double qn_set_jaccard(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb);
/* The key of band b of signature sig (rows values), never 0. */
uint64_t qn_band_key(const uint32_t *sig, int band, int rows);
/* P(a pair of similarity s shares a bucket) = 1 - (1 - s^rows)^bands. */
double qn_lsh_probability(double s, int bands, int rows);

/* ---- external sort of (key, doc) records (extsort.c) ---- */

struct qn_rec {
	uint64_t key;
	uint32_t doc;
} __attribute__((packed));

struct qn_extsort;

/*
 * A sorter that keeps at most mem bytes of records in memory and spills
 * sorted runs into files under dir.  Records come back ordered by key,
 * then doc.
 */
struct qn_extsort *qn_extsort_new(const char *dir, uint64_t mem);
int qn_extsort_add(struct qn_extsort *x, uint64_t key, uint32_t doc,
		   struct qn_err *err);
/* Ends the adding; the records can now be read in order. */
int qn_extsort_finish(struct qn_extsort *x, struct qn_err *err);
/* The next record: 1, 0 at the end, or QN_EIO. */
int qn_extsort_next(struct qn_extsort *x, struct qn_rec *r, struct qn_err *err);
/* Runs spilled to disk so far. */
int qn_extsort_runs(const struct qn_extsort *x);
void qn_extsort_free(struct qn_extsort *x);
/* In-memory radix sort by (key, doc), what each run is sorted with. */
void qn_rec_sort(struct qn_rec *r, size_t n, struct qn_rec *tmp);

/* ---- union-find (extsort.c) ---- */

/* Roots are always the smallest index of their set. */
struct qn_uf {
	uint32_t *parent;
	uint32_t n;
};

void qn_uf_init(struct qn_uf *u, uint32_t n);
void qn_uf_release(struct qn_uf *u);
uint32_t qn_uf_find(struct qn_uf *u, uint32_t x);
void qn_uf_union(struct qn_uf *u, uint32_t a, uint32_t b);

/* ---- signature files (sigfile.c) ---- */

/* One document's record as read back. */
struct qn_sigrec {
	struct qn_buf id;
	uint64_t text_bytes;
	double keep;		/* the --keep value; larger wins */
	struct qn_hash128 exact;
	uint32_t *sig;
	uint64_t *lines;
	uint32_t nlines;
	uint64_t *shingles;
	uint32_t nshingles;
	uint64_t offset;	/* of the record in its file */
};

struct qn_sigwriter;

/*
 * Creates the signature file path (published on commit) for an input
 * whose bytes hash to input_hash and that is called name.
 */
struct qn_sigwriter *qn_sigwriter_open(const char *path,
				       const struct qn_dedup_params *p,
				       struct qn_hash128 input_hash,
				       const char *name, struct qn_err *err);
int qn_sigwriter_add(struct qn_sigwriter *w, const char *id, size_t idlen,
		     uint64_t text_bytes, double keep,
		     const struct qn_docsig *s, struct qn_err *err);
/*
 * The same record serialized into out (appended), for workers that sign
 * in parallel; qn_sigwriter_add_raw writes such bytes holding ndocs records.
 */
void qn_sig_serialize(struct qn_buf *out, const struct qn_dedup_params *p,
		      const char *id, size_t idlen, uint64_t text_bytes, double keep,
		      const struct qn_docsig *s);
int qn_sigwriter_add_raw(struct qn_sigwriter *w, const void *bytes, size_t n,
			 uint64_t ndocs, struct qn_err *err);
int qn_sigwriter_commit(struct qn_sigwriter *w, struct qn_err *err);
uint64_t qn_sigwriter_docs(const struct qn_sigwriter *w);
void qn_sigwriter_free(struct qn_sigwriter *w);

struct qn_sigreader;

/*
 * Opens a signature file from a FILE (owned by the reader from then on)
 * and checks its header.  name is used in messages.
 */
struct qn_sigreader *qn_sigreader_fopen(FILE *f, const char *name,
					struct qn_err *err);
struct qn_sigreader *qn_sigreader_open(const char *path, struct qn_err *err);
const struct qn_dedup_params *qn_sigreader_params(const struct qn_sigreader *r);
struct qn_hash128 qn_sigreader_input_hash(const struct qn_sigreader *r);
const char *qn_sigreader_input_name(const struct qn_sigreader *r);
/*
 * The next record into rec (arrays owned by rec, reused): 1, 0 at a valid
 * end (count and checksum verified), or QN_EFORMAT for a damaged or
 * truncated file.
 */
int qn_sigreader_next(struct qn_sigreader *r, struct qn_sigrec *rec,
		      struct qn_err *err);
/* The record at offset (from an earlier next); 1 or QN_EFORMAT. */
int qn_sigreader_read_at(struct qn_sigreader *r, uint64_t offset,
			 struct qn_sigrec *rec, struct qn_err *err);
uint64_t qn_sigreader_docs(const struct qn_sigreader *r);
void qn_sigreader_close(struct qn_sigreader *r);
void qn_sigrec_init(struct qn_sigrec *rec);
void qn_sigrec_release(struct qn_sigrec *rec);

/* ---- clustering and the duplicates list (cluster.c) ---- */

enum { QN_KEEP_FIRST, QN_KEEP_LONGEST, QN_KEEP_META };
enum { QN_VERIFY_NONE, QN_VERIFY_SIG, QN_VERIFY_EXACT };
enum { QN_RULE_EXACT = 1, QN_RULE_MINHASH = 2 };

struct qn_cluster_opts {
	int exact, near;	/* methods on */
	int verify;		/* QN_VERIFY_* */
	double threshold;	/* verification: similarity to count as a duplicate */
	long lines;		/* remove lines seen in more than this many survivors; 0: off */
	uint64_t mem;		/* memory budget of the sort buffers */
	const char *tmpdir;
	FILE *clusters;		/* --clusters output, or NULL */
	int nindex;		/* the first nindex parts are the index: never output */
};

/* The decision on one part. */
struct qn_part_dups {
	struct qn_hash128 input_hash;
	char *name;
	uint64_t ndocs;
	uint64_t ndups;
	uint64_t *ord;		/* ordinals of the removed documents, ascending */
	char **id, **other;	/* their ids and their survivors' */
	unsigned char *rule;	/* QN_RULE_* */
	float *value;		/* estimated or exact similarity */
};

struct qn_dups {
	struct qn_dedup_params params;
	int nparts;
	struct qn_part_dups *parts;
	uint64_t *lines;	/* sorted hashes of the lines to remove */
	uint64_t nlines;
	uint64_t ndocs, ndups, nclusters;
	uint64_t memory_peak;	/* bytes the clustering held at most */
};

/*
 * Clusters the signature files paths[0..n) in order (their documents are
 * numbered in that order: the earliest wins ties).  Fills dups.
 */
int qn_dedup_cluster(char *const *paths, int n, const struct qn_cluster_opts *o,
		     struct qn_dups *dups, struct qn_err *err);
/* s with tabs, CR and LF as '?': how ids are written in the list (malloc'd). */
char *qn_dedup_field(const char *s);
void qn_dups_release(struct qn_dups *d);
/* Writes d as a duplicates list (text, see quern-dedup(1)). */
int qn_dups_write(const struct qn_dups *d, FILE *f, struct qn_err *err);
/* Reads a duplicates list; name for messages. */
int qn_dups_read(FILE *f, const char *name, struct qn_dups *d, struct qn_err *err);
/* The part whose input hashes to h, or -1. */
int qn_dups_find(const struct qn_dups *d, struct qn_hash128 h);
/* 1 if the line hash h is to be removed. */
int qn_dups_line(const struct qn_dups *d, uint64_t h);
const char *qn_rule_name(int rule);

#endif

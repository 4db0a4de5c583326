/*
 * fuzz_dedup: the file readers of quern-dedup under arbitrary bytes.
 *
 * One input is used twice:
 *  - as a signature file: every qn_sigreader_next returns a record, the
 *    valid end, or QN_EFORMAT with the file named in the message; the
 *    loop ends; records read back at their offsets are the same;
 *  - as a duplicates list: qn_dups_read accepts it or says why; an
 *    accepted list keeps its invariants (ordinals ascending and inside
 *    their part, line hashes ascending, counts matching) and survives
 *    qn_dups_write and a second read unchanged.
 *
 * Built as a libFuzzer target with clang (see tests/fuzz/build.sh), and
 * run by make check through tests/unit/t_fuzz_dedup.c on generated inputs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dedup.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

static void sig_file(const uint8_t *data, size_t size)
{
	struct qn_sigreader *r;
	struct qn_sigrec rec, back;
	struct qn_err err;
	uint64_t offs[8];
	int fd, rc, n = 0, i;
	FILE *f;

	fd = memfd_create("fuzz-sig", 0);
	if (fd < 0)
		return;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	lseek(fd, 0, SEEK_SET);
	if (!(f = fdopen(fd, "rb"))) {
		close(fd);
		return;
	}
	if (!(r = qn_sigreader_fopen(f, "fuzz.sig", &err))) {
		CHECK(err.code == QN_EFORMAT && strstr(err.msg, "fuzz.sig") == err.msg);
		return;
	}
	qn_sigrec_init(&rec);
	qn_sigrec_init(&back);
	while ((rc = qn_sigreader_next(r, &rec, &err)) == 1) {
		CHECK(rec.offset < size);
		if (n < 8)
			offs[n] = rec.offset;
		CHECK(++n <= (int)size);	/* every record consumes bytes */
	}
	CHECK(rc == 0 || (rc == QN_EFORMAT && strstr(err.msg, "fuzz.sig") == err.msg));
	if (rc == 0)
		CHECK(qn_sigreader_docs(r) == (uint64_t)n);
	for (i = 0; i < n && i < 8; i++) {
		CHECK(qn_sigreader_read_at(r, offs[i], &back, &err) == 1);
		CHECK(back.offset == offs[i]);
	}
	CHECK(qn_sigreader_read_at(r, size + 1, &back, &err) == QN_EFORMAT);
	qn_sigrec_release(&rec);
	qn_sigrec_release(&back);
	qn_sigreader_close(r);
}

static void dups_list(const uint8_t *data, size_t size)
{
	struct qn_dups d, e;
	struct qn_err err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int p;
	uint64_t i, total = 0;

	if (!size || !(f = fmemopen((void *)data, size, "r")))
		return;
	if (qn_dups_read(f, "fuzz.tsv", &d, &err) < 0) {
		fclose(f);
		CHECK(err.code == QN_EFORMAT && strstr(err.msg, "fuzz.tsv:") == err.msg);
		return;
	}
	fclose(f);
	for (p = 0; p < d.nparts; p++) {
		for (i = 0; i < d.parts[p].ndups; i++) {
			CHECK(d.parts[p].ord[i] < d.parts[p].ndocs);
			CHECK(!i || d.parts[p].ord[i - 1] < d.parts[p].ord[i]);
			CHECK(d.parts[p].rule[i] == QN_RULE_EXACT || d.parts[p].rule[i] == QN_RULE_MINHASH);
		}
		total += d.parts[p].ndups;
	}
	CHECK(total == d.ndups);
	for (i = 1; i < d.nlines; i++)
		CHECK(d.lines[i - 1] < d.lines[i]);
	f = open_memstream(&buf, &len);
	CHECK(f && qn_dups_write(&d, f, &err) == 0);
	fclose(f);
	f = fmemopen(buf, len, "r");
	CHECK(f && qn_dups_read(f, "again", &e, &err) == 0);
	fclose(f);
	CHECK(e.nparts == d.nparts && e.ndups == d.ndups && e.nlines == d.nlines);
	for (p = 0; p < d.nparts; p++)
		for (i = 0; i < d.parts[p].ndups; i++)
			CHECK(e.parts[p].ord[i] == d.parts[p].ord[i] &&
			      !strcmp(e.parts[p].id[i], d.parts[p].id[i]) &&
			      !strcmp(e.parts[p].other[i], d.parts[p].other[i]));
	qn_dups_release(&d);
	qn_dups_release(&e);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sig_file(data, size);
	dups_list(data, size);
	return 0;
}

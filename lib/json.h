/*
 * json.h: the JSON parser behind document streams.
 *
 * It wraps simdjson's On-Demand API (C++) behind a C interface.  simdjson
 * validates UTF-8 and structure at several GB/s, unescapes strings with
 * SIMD, and hands back the exact bytes of members it need not interpret,
 * which is what lets unknown members pass through unchanged.  Members
 * passed through raw are still validated in full, scalars included.
 */
#ifndef QN_JSON_H
#define QN_JSON_H

#include <stddef.h>

#include "docstream.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes that must be readable after the end of any buffer parsed. */
#define QN_JSON_PADDING 64

struct qn_json;

struct qn_json *qn_json_new(void);
void qn_json_free(struct qn_json *j);
/*
 * Parses buf[0..n), one JSON object, into d.  buf must stay readable for
 * QN_JSON_PADDING bytes past n.  Returns 0, or QN_EINPUT with the reason
 * (without a file:line prefix).
 */
int qn_json_parse_doc(struct qn_json *j, const char *buf, size_t n,
		      struct qn_doc *d, struct qn_err *err);

#ifdef __cplusplus
}
#endif

#endif

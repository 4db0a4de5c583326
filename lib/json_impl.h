/*
 * json_impl.h: the two builds of json.cc and their run-time choice.
 *
 * json.cc is compiled once per CPU variant with QN_JSON_VARIANT set to
 * haswell or generic; each build exports the three functions below under
 * its own suffix.  json.c holds the dispatcher behind json.h.
 */
#ifndef QN_JSON_IMPL_H
#define QN_JSON_IMPL_H

#include <stddef.h>

#include "docstream.h"
#include "err.h"

#define QN_JSON_CAT2(a, b) qn_json_##a##_##b
#define QN_JSON_CAT(a, b) QN_JSON_CAT2(a, b)
#define QN_JSON_SYM(name) QN_JSON_CAT(name, QN_JSON_VARIANT)

#ifdef __cplusplus
extern "C" {
#endif

#define QN_JSON_DECLARE(v) \
	void *qn_json_new_##v(void); \
	void qn_json_free_##v(void *j); \
	int qn_json_parse_doc_##v(void *j, const char *buf, size_t n, \
				  struct qn_doc *d, struct qn_err *err);

QN_JSON_DECLARE(haswell)
QN_JSON_DECLARE(generic)

#ifdef __cplusplus
}
#endif

#endif

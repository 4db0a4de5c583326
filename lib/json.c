/*
 * json.c: picks the json.cc build that fits this CPU (see json_impl.h).
 */
#include <stdlib.h>

#include "json.h"
#include "json_impl.h"

struct qn_json {
	void *p;
	int haswell;
};

/*
 * AVX2 with BMI1/2 and PCLMUL: simdjson's "haswell" kernel (which also
 * uses LZCNT, present on every CPU with AVX2 and BMI2).
 */
static int cpu_haswell(void)
{
	static int v = -1;

	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
		    __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("pclmul");
	}
	return v;
}

struct qn_json *qn_json_new(void)
{
	struct qn_json *j = qn_xmalloc(sizeof *j);

	j->haswell = cpu_haswell();
	j->p = j->haswell ? qn_json_new_haswell() : qn_json_new_generic();
	return j;
}

void qn_json_free(struct qn_json *j)
{
	if (!j)
		return;
	if (j->haswell)
		qn_json_free_haswell(j->p);
	else
		qn_json_free_generic(j->p);
	free(j);
}

int qn_json_parse_doc(struct qn_json *j, const char *buf, size_t n,
		      struct qn_doc *d, struct qn_err *err)
{
	return j->haswell ? qn_json_parse_doc_haswell(j->p, buf, n, d, err)
			  : qn_json_parse_doc_generic(j->p, buf, n, d, err);
}

/*
 * json.cc: document parsing with simdjson On-Demand (see json.h).
 *
 * The one C++ file of libquern: simdjson has no C interface.  Nothing C++
 * crosses the boundary: no exceptions (simdjson's error-code API only), no
 * types in the header.
 *
 * This file is compiled twice, for AVX2 machines (-mavx2 ..., symbols
 * ending in _haswell) and for any x86-64 (_generic); json.c picks one at
 * run time.  simdjson's On-Demand code is specialised at compile time,
 * so without the AVX2 build it would run its portable fallback, several
 * times slower.
 *
 * On-Demand parses lazily: members are only validated as far as they are
 * read.  The four known members are read in full.  Every other member is
 * taken as its raw byte span and then walked in full by a second parser,
 * so that nothing we copy through can be invalid JSON.  Those members are
 * small next to the text, so the copy into padded memory costs little.
 */
#include <cstring>
#include <new>
#include <string_view>

#include <simdjson.h>

#include "json.h"
#include "json_impl.h"

using namespace simdjson;

namespace {

struct parser {
	ondemand::parser doc_parser;
	ondemand::parser raw_parser;
	padded_string scratch;	/* raw members, copied with padding */
};

}

extern "C" void *QN_JSON_SYM(new)(void)
{
	parser *j = new (std::nothrow) parser();

	if (!j)
		abort();
	return j;
}

extern "C" void QN_JSON_SYM(free)(void *j)
{
	delete static_cast<parser *>(j);
}

static int fail(struct qn_err *err, error_code e)
{
	const char *what;

	switch (e) {
	case UTF8_ERROR: what = "invalid UTF-8"; break;
	case INCORRECT_TYPE: what = "invalid JSON: unexpected type"; break;
	case TAPE_ERROR: what = "invalid JSON: malformed structure"; break;
	case UNCLOSED_STRING: what = "invalid JSON: unclosed string"; break;
	case STRING_ERROR: what = "invalid JSON: bad string escape"; break;
	case NUMBER_ERROR: what = "invalid JSON: bad number"; break;
	case T_ATOM_ERROR: case F_ATOM_ERROR: case N_ATOM_ERROR:
		what = "invalid JSON: bad literal"; break;
	case DEPTH_ERROR: what = "invalid JSON: nested too deeply"; break;
	case EMPTY: what = "invalid JSON: empty"; break;
	case TRAILING_CONTENT: what = "invalid JSON: trailing bytes"; break;
	default: what = nullptr;
	}
	if (what)
		return qn_err_set(err, QN_EINPUT, "%s", what);
	return qn_err_set(err, QN_EINPUT, "invalid JSON: %s", error_message(e));
}

/* Walks v to the end, checking every scalar. */
static error_code walk(ondemand::value v, int depth)
{
	ondemand::json_type t;
	error_code e;

	if (depth > 512)
		return DEPTH_ERROR;
	if ((e = v.type().get(t)))
		return e;
	switch (t) {
	case ondemand::json_type::object: {
		ondemand::object o;
		if ((e = v.get_object().get(o)))
			return e;
		for (auto fr : o) {
			ondemand::field f;
			std::string_view k;
			if ((e = std::move(fr).get(f)) || (e = f.unescaped_key().get(k)) ||
			    (e = walk(f.value(), depth + 1)))
				return e;
		}
		return SUCCESS;
	}
	case ondemand::json_type::array: {
		ondemand::array a;
		if ((e = v.get_array().get(a)))
			return e;
		for (auto er : a) {
			ondemand::value ev;
			if ((e = std::move(er).get(ev)) || (e = walk(ev, depth + 1)))
				return e;
		}
		return SUCCESS;
	}
	case ondemand::json_type::string: {
		std::string_view s;
		return v.get_string().get(s);
	}
	case ondemand::json_type::number: {
		double d;
		/* get_double parses any valid number, big integers too. */
		return v.get_double().get(d);
	}
	case ondemand::json_type::boolean: {
		bool b;
		return v.get_bool().get(b);
	}
	case ondemand::json_type::null: {
		bool n;
		if ((e = v.is_null().get(n)))
			return e;
		return n ? SUCCESS : N_ATOM_ERROR;
	}
	}
	return TAPE_ERROR;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static std::string_view rtrim(std::string_view s)
{
	while (!s.empty() && is_ws(s.back()))
		s.remove_suffix(1);
	return s;
}

static error_code raw_span(ondemand::value v, std::string_view *out);

/*
 * simdjson 3.0 has no document::at_end(): find the root value's span,
 * check that only whitespace follows it, and rewind for the real walk.
 * The span walk only follows structural indexes, so it is cheap.
 */
static error_code single_value(ondemand::document &doc, const char *buf, size_t n)
{
	ondemand::value v;
	std::string_view span;
	const char *end = buf + n, *p;
	error_code e;

	if ((e = doc.get_value().get(v)) || (e = raw_span(v, &span)))
		return e;
	for (p = span.data() + span.size(); p < end; p++)
		if (!is_ws(*p))
			return TRAILING_CONTENT;
	doc.rewind();
	return SUCCESS;
}

/* Validates one root scalar, which On-Demand reads from the document itself. */
static error_code root_scalar(ondemand::document &doc, ondemand::json_type t)
{
	std::string_view s;
	double d;
	bool b;
	error_code e;

	switch (t) {
	case ondemand::json_type::string: return doc.get_string().get(s);
	case ondemand::json_type::number: return doc.get_double().get(d);
	case ondemand::json_type::boolean: return doc.get_bool().get(b);
	case ondemand::json_type::null:
		if ((e = doc.is_null().get(b)))
			return e;
		return b ? SUCCESS : N_ATOM_ERROR;
	default: return TAPE_ERROR;
	}
}

/* Validates raw JSON text s by a full walk in the second parser. */
static error_code validate_raw(parser *j, std::string_view s)
{
	ondemand::document doc;
	ondemand::json_type t;
	ondemand::value v;
	error_code e;

	j->scratch = padded_string(s);
	if ((e = j->raw_parser.iterate(j->scratch).get(doc)) || (e = doc.type().get(t)))
		return e;
	if (t != ondemand::json_type::object && t != ondemand::json_type::array)
		return root_scalar(doc, t);	/* checks for trailing bytes itself */
	if ((e = single_value(doc, j->scratch.data(), j->scratch.size())))
		return e;
	if ((e = doc.get_value().get(v)) || (e = walk(v, 0)))
		return e;
	return SUCCESS;
}

static error_code raw_span(ondemand::value v, std::string_view *out)
{
	ondemand::json_type t;
	error_code e;

	if ((e = v.type().get(t)))
		return e;
	if (t == ondemand::json_type::object) {
		ondemand::object o;
		if ((e = v.get_object().get(o)))
			return e;
		return o.raw_json().get(*out);
	}
	if (t == ondemand::json_type::array) {
		ondemand::array a;
		if ((e = v.get_array().get(a)))
			return e;
		return a.raw_json().get(*out);
	}
	*out = rtrim(v.raw_json_token());
	return SUCCESS;
}

static int known_string(ondemand::value v, struct qn_buf *dst, const char *key,
			struct qn_err *err)
{
	std::string_view s;
	error_code e = v.get_string().get(s);

	if (e == INCORRECT_TYPE)
		return qn_err_set(err, QN_EINPUT, "\"%s\" is not a string", key);
	if (e)
		return fail(err, e);
	qn_buf_set(dst, s.data(), s.size());
	return 0;
}

extern "C" int QN_JSON_SYM(parse_doc)(void *jp, const char *buf, size_t n,
				      struct qn_doc *d, struct qn_err *err)
{
	parser *j = static_cast<parser *>(jp);
	ondemand::document doc;
	ondemand::object obj;
	unsigned seen = 0;
	error_code e;

	qn_buf_reset(&d->id);
	qn_buf_reset(&d->text);
	qn_buf_reset(&d->source);
	qn_buf_reset(&d->locator);
	qn_buf_reset(&d->extra);
	d->has_id = d->has_source = d->has_locator = 0;

	ondemand::json_type t;

	e = j->doc_parser.iterate(buf, n, n + QN_JSON_PADDING).get(doc);
	if (!e)
		e = doc.type().get(t);
	if (!e && t != ondemand::json_type::object)
		return qn_err_set(err, QN_EINPUT, "invalid JSON: not an object");
	if (!e)
		e = single_value(doc, buf, n);
	if (e == TRAILING_CONTENT)
		return qn_err_set(err, QN_EINPUT,
				  "invalid JSON: trailing bytes after the object");
	if (e)
		return fail(err, e);
	if ((e = doc.get_object().get(obj)))
		return fail(err, e);
	for (auto fr : obj) {
		ondemand::field f;
		std::string_view key, raw;
		struct qn_buf *dst = nullptr;
		const char *name = nullptr;
		unsigned bit = 0;
		int rc;

		if ((e = std::move(fr).get(f)) || (e = f.unescaped_key().get(key)))
			return fail(err, e);
		if (key == "text")
			dst = &d->text, name = "text", bit = 1;
		else if (key == "id")
			dst = &d->id, name = "id", bit = 2;
		else if (key == "source")
			dst = &d->source, name = "source", bit = 4;
		else if (key == "locator")
			dst = &d->locator, name = "locator", bit = 8;
		if (dst) {
			if (seen & bit)
				return qn_err_set(err, QN_EINPUT,
						  "duplicate member \"%s\"", name);
			seen |= bit;
			if ((rc = known_string(f.value(), dst, name, err)))
				return rc;
			continue;
		}
		if ((e = raw_span(f.value(), &raw)) || (e = validate_raw(j, raw)))
			return fail(err, e);
		if (d->extra.len)
			qn_buf_putc(&d->extra, ',');
		qn_buf_append_json_str(&d->extra, key.data(), key.size());
		qn_buf_putc(&d->extra, ':');
		qn_buf_append(&d->extra, raw.data(), raw.size());
	}
	if (!(seen & 1))
		return qn_err_set(err, QN_EINPUT, "no \"text\" member");
	d->has_id = !!(seen & 2);
	d->has_source = !!(seen & 4);
	d->has_locator = !!(seen & 8);
	return 0;
}

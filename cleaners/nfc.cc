/*
 * nfc.cc: NFC and NFKC of UTF-8 text through ICU's UTF-8 interface.
 *
 * ICU's C API normalizes UTF-16 only, which costs two conversions of the
 * whole document and a buffer for each; its C++ Normalizer2 checks and
 * normalizes UTF-8 as it is (isNormalizedUTF8, normalizeUTF8).  The
 * result is the same normal form either way; this file only turns that
 * interface into a C function for text.c.
 */
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

#include "internal.h"

namespace {

/* An ICU ByteSink that appends to a struct qn_buf. */
class BufSink : public icu::ByteSink {
public:
	explicit BufSink(struct qn_buf *b) : buf(b) {}
	void Append(const char *bytes, int32_t n) override
	{
		qn_buf_append(buf, bytes, (size_t)n);
	}

private:
	struct qn_buf *buf;
};

}

/*
 * Whether s[0..n) (valid UTF-8) is in NFC (or NFKC): 0 if it is, 1 with
 * out (emptied first) holding the normalized text if not, -1 if ICU
 * fails (out undefined).
 */
extern "C" int qn_normalize_utf8(const char *s, size_t n, int nfkc, struct qn_buf *out)
{
	UErrorCode e = U_ZERO_ERROR;
	const icu::Normalizer2 *norm = nfkc ? icu::Normalizer2::getNFKCInstance(e)
					    : icu::Normalizer2::getNFCInstance(e);

	if (U_FAILURE(e) || n > (size_t)0x7fffffff)
		return -1;
	icu::StringPiece sp(s, (int32_t)n);
	if (norm->isNormalizedUTF8(sp, e))
		return U_FAILURE(e) ? -1 : 0;
	if (U_FAILURE(e))
		return -1;
	BufSink sink(out);

	qn_buf_reset(out);
	qn_buf_grow(out, n + 1);
	norm->normalizeUTF8(0, sp, sink, nullptr, e);
	if (U_FAILURE(e))
		return -1;
	out->data[out->len] = '\0';	/* room was made above */
	return 1;
}

/*
 * tokload.c: reading tokenizer files into a qn_tok (see tokenizer.h).
 *
 * Three formats, recognised by content:
 *  - Hugging Face tokenizer.json (a JSON object with "model"): a BPE
 *    model over the byte-level alphabet (GPT-2's byte-to-character map),
 *    its merges, "added_tokens" (all taken as special tokens: Hugging
 *    Face matches every added token in the text before the model runs),
 *    and a pre-tokenizer that is either ByteLevel with its regex, or a
 *    Sequence of Split(Regex, Isolated) and ByteLevel without regex.
 *    Normalizers, dropout, prefix spaces and subword affixes are refused:
 *    they are not byte-level BPE as quern encodes it.
 *  - npm tiktoken's encoder JSON (an object with "bpe_ranks"): pat_str,
 *    special_tokens, and bpe_ranks, lines of "! OFFSET B64 B64 ..." (the
 *    tokens of ranks OFFSET, OFFSET+1, ...) or "B64 RANK".
 *  - a .tiktoken rank file: lines "B64 RANK".  The split pattern and the
 *    special tokens are those of the built-in encoding named by the file
 *    name up to its first dot (gpt2, r50k_base, p50k_base, cl100k_base,
 *    o200k_base); any other name gets gpt2's pattern and <|endoftext|>
 *    as the id after the largest rank (gpt2's own id would collide with
 *    an ordinary token of a smaller vocabulary).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tjson.h"
#include "tok_impl.h"

/* Puts "path: " before the message in err; returns the code. */
static int prefix(struct qn_err *err, int rc, const char *path)
{
	char msg[QN_ERR_MSG];

	snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
	return qn_err_set(err, rc, "%s: %s", path, msg);
}

/* ---- byte-level map and base64 ---- */

static int is_printable_byte(int b)
{
	return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t qn_bytelevel_char(uint8_t b)
{
	uint32_t n = 0;

	if (is_printable_byte(b))
		return b;
	for (int c = 0; c < b; c++)
		if (!is_printable_byte(c))
			n++;
	return 256 + n;
}

int qn_bytelevel_byte(uint32_t c)
{
	static int16_t inv[512];
	static int ready;

	if (!ready) {
		for (int i = 0; i < 512; i++)
			inv[i] = -1;
		for (int b = 0; b < 256; b++)
			inv[qn_bytelevel_char((uint8_t)b)] = (int16_t)b;
		ready = 1;
	}
	return c < 512 ? inv[c] : -1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int qn_base64_decode(const char *s, size_t n, struct qn_buf *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i, pad = 0;

	qn_buf_reset(out);
	if (n % 4)
		return -1;
	for (i = 0; i < n; i++) {
		int v;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			qn_buf_putc(out, (char)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || acc)
		return -1;
	return 0;
}

void qn_base64_encode(const uint8_t *b, size_t n, struct qn_buf *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)b[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)b[i + 1] << 8;
		if (i + 2 < n)
			v |= b[i + 2];
		qn_buf_putc(out, a[v >> 18]);
		qn_buf_putc(out, a[(v >> 12) & 63]);
		qn_buf_putc(out, i + 1 < n ? a[(v >> 6) & 63] : '=');
		qn_buf_putc(out, i + 2 < n ? a[v & 63] : '=');
	}
}

/* ---- token lists ---- */

struct parts {
	struct qn_tok_part *v;
	size_t n, cap;
	struct qn_buf bytes;	/* the bytes; v[i].b set once all are read */
	size_t *boff;
};

static void parts_add(struct parts *p, const void *b, size_t n, uint32_t id)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 1024;
		p->v = qn_xrealloc(p->v, p->cap * sizeof *p->v);
		p->boff = qn_xrealloc(p->boff, p->cap * sizeof *p->boff);
	}
	p->boff[p->n] = p->bytes.len;
	qn_buf_append(&p->bytes, b, n);
	p->v[p->n].len = n;
	p->v[p->n].id = id;
	p->n++;
}

static void parts_fix(struct parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->v[i].b = (const uint8_t *)p->bytes.data + p->boff[i];
}

static void parts_release(struct parts *p)
{
	free(p->v);
	free(p->boff);
	qn_buf_release(&p->bytes);
}

static int parse_rank(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (1u << 26))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---- built-in encodings' special tokens ---- */

static const struct {
	const char *enc, *text;
	uint32_t id;
} builtin_specials[] = {
	{ "gpt2", "<|endoftext|>", 50256 },
	{ "r50k_base", "<|endoftext|>", 50256 },
	{ "p50k_base", "<|endoftext|>", 50256 },
	{ "cl100k_base", "<|endoftext|>", 100257 },
	{ "cl100k_base", "<|fim_prefix|>", 100258 },
	{ "cl100k_base", "<|fim_middle|>", 100259 },
	{ "cl100k_base", "<|fim_suffix|>", 100260 },
	{ "cl100k_base", "<|endofprompt|>", 100276 },
	{ "o200k_base", "<|endoftext|>", 199999 },
	{ "o200k_base", "<|endofprompt|>", 200018 },
};

/* ---- .tiktoken ---- */

static int load_tiktoken(const char *path, const char *s, size_t n,
			 struct qn_tok **out, struct qn_err *err)
{
	struct parts tok = { 0 }, sp = { 0 };
	struct qn_buf b = QN_BUF_INIT;
	size_t line = 0, i = 0;
	uint32_t maxrank = 0;
	char name[64];
	const char *base = strrchr(path, '/'), *pat;
	int rc = 0;

	while (i < n) {
		const char *e = memchr(s + i, '\n', n - i), *sp1;
		size_t end = e ? (size_t)(e - s) : n, len = end - i;
		uint32_t rank;

		line++;
		if (len && s[i + len - 1] == '\r')
			len--;
		if (len == 0) {
			i = end + 1;
			continue;
		}
		sp1 = memchr(s + i, ' ', len);
		if (!sp1 || qn_base64_decode(s + i, (size_t)(sp1 - s - i), &b) ||
		    parse_rank(sp1 + 1, (size_t)(s + i + len - sp1 - 1), &rank)) {
			rc = qn_err_set(err, QN_EFORMAT, "%s:%zu: expected 'BASE64 RANK'", path, line);
			goto out;
		}
		parts_add(&tok, b.data, b.len, rank);
		if (rank > maxrank)
			maxrank = rank;
		i = end + 1;
	}
	base = base ? base + 1 : path;
	snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
	pat = qn_pretok_builtin(name);
	if (pat) {
		for (size_t k = 0; k < sizeof builtin_specials / sizeof builtin_specials[0]; k++)
			if (!strcmp(builtin_specials[k].enc, name))
				parts_add(&sp, builtin_specials[k].text, strlen(builtin_specials[k].text),
					  builtin_specials[k].id);
	} else {
		pat = qn_pretok_builtin("gpt2");
		parts_add(&sp, "<|endoftext|>", 13, maxrank + 1);
	}
	parts_fix(&tok);
	parts_fix(&sp);
	rc = qn_tok_build(tok.v, tok.n, sp.v, sp.n, NULL, 0, 1, pat, out, err);
	if (rc)
		rc = prefix(err, rc, path);
out:
	parts_release(&tok);
	parts_release(&sp);
	qn_buf_release(&b);
	return rc;
}

/* ---- npm tiktoken JSON ---- */

static int load_npm(const char *path, const struct tj_doc *d, const struct tj_node *root,
		    struct qn_tok **out, struct qn_err *err)
{
	const struct tj_node *pat = tj_get(d, root, "pat_str");
	const struct tj_node *spec = tj_get(d, root, "special_tokens");
	const struct tj_node *ranks = tj_get(d, root, "bpe_ranks");
	struct parts tok = { 0 }, sp = { 0 };
	struct qn_buf b = QN_BUF_INIT;
	int rc = 0;

	if (!pat || pat->type != TJ_STR || !ranks || ranks->type != TJ_STR ||
	    (spec && spec->type != TJ_OBJ))
		return qn_err_set(err, QN_EFORMAT, "%s: expected pat_str, special_tokens and bpe_ranks", path);
	const char *s = tj_str(d, ranks);
	size_t n = ranks->n, i = 0, line = 0;

	while (i < n) {
		const char *e = memchr(s + i, '\n', n - i);
		size_t end = e ? (size_t)(e - s) : n;

		line++;
		if (end > i && s[i] == '!') {
			/* "! OFFSET tok tok ..." */
			size_t j = i + 1, k;
			uint32_t off;

			while (j < end && s[j] == ' ')
				j++;
			k = j;
			while (k < end && s[k] != ' ')
				k++;
			if (parse_rank(s + j, k - j, &off))
				goto bad;
			for (uint32_t r = off; k < end; r++) {
				j = k + 1;
				k = j;
				while (k < end && s[k] != ' ')
					k++;
				if (qn_base64_decode(s + j, k - j, &b) || r > (1u << 26))
					goto bad;
				parts_add(&tok, b.data, b.len, r);
			}
		} else if (end > i) {
			const char *sp1 = memchr(s + i, ' ', end - i);
			uint32_t r;

			if (!sp1 || qn_base64_decode(s + i, (size_t)(sp1 - s - i), &b) ||
			    parse_rank(sp1 + 1, (size_t)(s + end - sp1 - 1), &r))
				goto bad;
			parts_add(&tok, b.data, b.len, r);
		}
		i = end + 1;
	}
	for (uint32_t k = 0; spec && k < spec->n; k++) {
		const struct tj_node *key = tj_key(d, spec, k), *v = tj_at(d, spec, k);

		if (v->type != TJ_NUM || v->num < 0 || v->num > (1u << 26) || v->num != (uint32_t)v->num) {
			rc = qn_err_set(err, QN_EFORMAT, "%s: special token '%s': bad id", path, tj_str(d, key));
			goto out;
		}
		parts_add(&sp, tj_str(d, key), key->n, (uint32_t)v->num);
	}
	parts_fix(&tok);
	parts_fix(&sp);
	rc = qn_tok_build(tok.v, tok.n, sp.v, sp.n, NULL, 0, 1, tj_str(d, pat), out, err);
	if (rc)
		rc = prefix(err, rc, path);
	goto out;
bad:
	rc = qn_err_set(err, QN_EFORMAT, "%s: bpe_ranks line %zu: expected '! OFFSET BASE64...' or 'BASE64 RANK'",
			path, line);
out:
	parts_release(&tok);
	parts_release(&sp);
	qn_buf_release(&b);
	return rc;
}

/* ---- Hugging Face tokenizer.json ---- */

static int is_null(const struct tj_node *v)
{
	return !v || v->type == TJ_NULL;
}

static int is_false(const struct tj_node *v)
{
	return !v || v->type == TJ_NULL || v->type == TJ_FALSE;
}

static int str_is(const struct tj_doc *d, const struct tj_node *v, const char *s)
{
	return v && v->type == TJ_STR && v->n == strlen(s) && !memcmp(tj_str(d, v), s, v->n);
}

/* Decodes a byte-level token string into bytes; -1 if it is not one. */
static int bytelevel_decode(const char *s, size_t n, struct qn_buf *out)
{
	const unsigned char *u = (const unsigned char *)s;

	qn_buf_reset(out);
	for (size_t i = 0; i < n;) {
		uint32_t c;
		int b;

		if (u[i] < 0x80) {
			c = u[i++];
		} else if ((u[i] & 0xe0) == 0xc0 && i + 1 < n) {
			c = (uint32_t)(u[i] & 0x1f) << 6 | (u[i + 1] & 0x3f);
			i += 2;
		} else {
			return -1;	/* the map only reaches U+0143 */
		}
		if ((b = qn_bytelevel_byte(c)) < 0)
			return -1;
		qn_buf_putc(out, (char)b);
	}
	return 0;
}

/* The split pattern of a supported pre_tokenizer, or NULL with err set. */
static const char *hf_pattern(const char *path, const struct tj_doc *d, const struct tj_node *pre,
			      struct qn_err *err)
{
	const struct tj_node *type = tj_get(d, pre, "type");

	if (str_is(d, type, "ByteLevel")) {
		if (!is_false(tj_get(d, pre, "add_prefix_space"))) {
			qn_err_set(err, QN_EFORMAT, "%s: ByteLevel add_prefix_space is not supported", path);
			return NULL;
		}
		const struct tj_node *ur = tj_get(d, pre, "use_regex");

		if (ur && ur->type == TJ_FALSE) {
			qn_err_set(err, QN_EFORMAT, "%s: a ByteLevel pre-tokenizer without a regex needs a Split before it", path);
			return NULL;
		}
		return qn_pretok_builtin("gpt2");
	}
	if (str_is(d, type, "Sequence")) {
		const struct tj_node *l = tj_get(d, pre, "pretokenizers");

		if (l && l->type == TJ_ARR && l->n == 2) {
			const struct tj_node *s = tj_at(d, l, 0), *bl = tj_at(d, l, 1);
			const struct tj_node *pat = tj_get(d, s, "pattern");
			const struct tj_node *rx = tj_get(d, pat, "Regex");
			const struct tj_node *ur = tj_get(d, bl, "use_regex");

			if (str_is(d, tj_get(d, s, "type"), "Split") && rx && rx->type == TJ_STR &&
			    str_is(d, tj_get(d, s, "behavior"), "Isolated") &&
			    is_false(tj_get(d, s, "invert")) &&
			    str_is(d, tj_get(d, bl, "type"), "ByteLevel") &&
			    is_false(tj_get(d, bl, "add_prefix_space")) && ur && ur->type == TJ_FALSE)
				return tj_str(d, rx);
		}
	}
	qn_err_set(err, QN_EFORMAT, "%s: unsupported pre_tokenizer (supported: ByteLevel, or "
		   "Sequence of Split(Regex, Isolated) and ByteLevel(use_regex false))", path);
	return NULL;
}

static int load_hf(const char *path, const struct tj_doc *d, const struct tj_node *root,
		   struct qn_tok **out, struct qn_err *err)
{
	const struct tj_node *model = tj_get(d, root, "model");
	const struct tj_node *vocab = tj_get(d, model, "vocab");
	const struct tj_node *merges = tj_get(d, model, "merges");
	const struct tj_node *added = tj_get(d, root, "added_tokens");
	const struct tj_node *v;
	struct parts tok = { 0 }, sp = { 0 };
	struct qn_buf b = QN_BUF_INIT, a2 = QN_BUF_INIT;
	uint32_t *mg = NULL, *idmap = NULL;
	const char *pat;
	int rc = 0, whole_first;
	size_t nmg = 0;
	uint8_t *is_added = NULL;
	uint32_t maxid = 0;

	if (!model || model->type != TJ_OBJ || !vocab || vocab->type != TJ_OBJ ||
	    !merges || merges->type != TJ_ARR)
		return qn_err_set(err, QN_EFORMAT, "%s: expected a model with vocab and merges", path);
	if ((v = tj_get(d, model, "type")) && !str_is(d, v, "BPE"))
		return qn_err_set(err, QN_EFORMAT, "%s: model type is not BPE", path);
	if (!is_null(tj_get(d, root, "normalizer")))
		return qn_err_set(err, QN_EFORMAT, "%s: normalizers are not supported", path);
	if ((v = tj_get(d, model, "dropout")) && v->type != TJ_NULL && !(v->type == TJ_NUM && v->num == 0))
		return qn_err_set(err, QN_EFORMAT, "%s: BPE dropout is not supported", path);
	if (!is_false(tj_get(d, model, "byte_fallback")))
		return qn_err_set(err, QN_EFORMAT, "%s: byte_fallback is not supported", path);
	if (((v = tj_get(d, model, "continuing_subword_prefix")) && !is_null(v) && !str_is(d, v, "")) ||
	    ((v = tj_get(d, model, "end_of_word_suffix")) && !is_null(v) && !str_is(d, v, "")))
		return qn_err_set(err, QN_EFORMAT, "%s: subword prefixes and suffixes are not supported", path);
	if (!(pat = hf_pattern(path, d, tj_get(d, root, "pre_tokenizer"), err)))
		return err->code;
	v = tj_get(d, model, "ignore_merges");
	whole_first = v && v->type == TJ_TRUE;

	for (uint32_t k = 0; k < vocab->n; k++) {
		v = tj_at(d, vocab, k);
		if (v->type != TJ_NUM || v->num < 0 || v->num > (1u << 26) || v->num != (uint32_t)v->num)
			return qn_err_set(err, QN_EFORMAT, "%s: vocab '%s': bad id", path, tj_str(d, tj_key(d, vocab, k)));
		if ((uint32_t)v->num > maxid)
			maxid = (uint32_t)v->num;
	}
	if (added && added->type == TJ_ARR) {
		for (uint32_t k = 0; k < added->n; k++) {
			const struct tj_node *at = tj_at(d, added, k);
			const struct tj_node *id = tj_get(d, at, "id"), *c = tj_get(d, at, "content");

			if (!id || id->type != TJ_NUM || id->num < 0 || id->num > (1u << 26) ||
			    id->num != (uint32_t)id->num || !c || c->type != TJ_STR || c->n == 0) {
				rc = qn_err_set(err, QN_EFORMAT, "%s: added_tokens[%u]: expected id and content", path, k);
				goto out;
			}
			if ((uint32_t)id->num > maxid)
				maxid = (uint32_t)id->num;
		}
	}
	is_added = qn_xcalloc((size_t)maxid + 1, 1);
	for (uint32_t k = 0; added && added->type == TJ_ARR && k < added->n; k++) {
		const struct tj_node *at = tj_at(d, added, k);
		const struct tj_node *c = tj_get(d, at, "content");
		uint32_t id = (uint32_t)tj_get(d, at, "id")->num;

		if (is_added[id]) {
			rc = qn_err_set(err, QN_EFORMAT, "%s: added token id %u is given twice", path, id);
			goto out;
		}
		is_added[id] = 1;
		parts_add(&sp, tj_str(d, c), c->n, id);
	}
	/* vocab keys -> bytes; idmap: vocab order -> id */
	for (uint32_t k = 0; k < vocab->n; k++) {
		const struct tj_node *key = tj_key(d, vocab, k);
		uint32_t id = (uint32_t)tj_at(d, vocab, k)->num;

		if (is_added[id])
			continue;
		if (bytelevel_decode(tj_str(d, key), key->n, &b)) {
			rc = qn_err_set(err, QN_EFORMAT, "%s: vocab '%s' is not a byte-level token", path, tj_str(d, key));
			goto out;
		}
		parts_add(&tok, b.data, b.len, id);
	}
	parts_fix(&tok);
	parts_fix(&sp);
	/* merges: ids through a temporary bytes-only tokenizer table */
	{
		struct qn_tok *tmp = NULL;

		static const uint32_t none[2];

		/* merges mode with no merges: only the bytes table is built */
		rc = qn_tok_build(tok.v, tok.n, NULL, 0, none, 0, 0, pat, &tmp, err);
		if (rc) {
			rc = prefix(err, rc, path);
			goto out;
		}
		mg = qn_xmalloc(((size_t)merges->n + 1) * 2 * sizeof *mg);
		for (uint32_t k = 0; k < merges->n; k++) {
			const struct tj_node *m = tj_at(d, merges, k);
			const char *x, *y;
			size_t xl, yl;
			int64_t ix, iy;

			if (m->type == TJ_STR) {
				const char *s = tj_str(d, m), *spc = memchr(s, ' ', m->n);

				if (!spc)
					goto badmerge;
				x = s;
				xl = (size_t)(spc - s);
				y = spc + 1;
				yl = m->n - xl - 1;
			} else if (m->type == TJ_ARR && m->n == 2 && tj_at(d, m, 0)->type == TJ_STR &&
				   tj_at(d, m, 1)->type == TJ_STR) {
				x = tj_str(d, tj_at(d, m, 0));
				xl = tj_at(d, m, 0)->n;
				y = tj_str(d, tj_at(d, m, 1));
				yl = tj_at(d, m, 1)->n;
			} else {
				goto badmerge;
			}
			if (bytelevel_decode(x, xl, &b) || (ix = qn_tok_lookup(tmp, b.data, b.len)) < 0 ||
			    bytelevel_decode(y, yl, &a2) || (iy = qn_tok_lookup(tmp, a2.data, a2.len)) < 0)
				goto badmerge;
			mg[2 * nmg] = (uint32_t)ix;
			mg[2 * nmg + 1] = (uint32_t)iy;
			nmg++;
			continue;
badmerge:
			qn_tok_free(tmp);
			rc = qn_err_set(err, QN_EFORMAT, "%s: merges[%u]: expected two tokens of the vocab", path, k);
			goto out;
		}
		qn_tok_free(tmp);
	}
	rc = qn_tok_build(tok.v, tok.n, sp.v, sp.n, mg, nmg, whole_first, pat, out, err);
	if (rc)
		rc = prefix(err, rc, path);
out:
	free(is_added);
	free(idmap);
	free(mg);
	parts_release(&tok);
	parts_release(&sp);
	qn_buf_release(&b);
	qn_buf_release(&a2);
	return rc;
}

/* ---- entry points ---- */

int qn_tok_load_mem(const char *path, const char *s, size_t n, struct qn_tok **out, struct qn_err *err)
{
	size_t i = 0;

	*out = NULL;
	if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	if (i < n && s[i] == '{') {
		struct tj_doc d;
		int rc = tj_parse(&d, s + i, n - i, err);

		if (rc)
			return prefix(err, rc, path);
		const struct tj_node *root = tj_node(&d, 0);

		if (tj_get(&d, root, "bpe_ranks"))
			rc = load_npm(path, &d, root, out, err);
		else if (tj_get(&d, root, "model"))
			rc = load_hf(path, &d, root, out, err);
		else
			rc = qn_err_set(err, QN_EFORMAT, "%s: not a tokenizer (no \"model\" or \"bpe_ranks\")", path);
		tj_release(&d);
		return rc;
	}
	return load_tiktoken(path, s, n, out, err);
}

int qn_tok_load(const char *path, struct qn_tok **out, struct qn_err *err)
{
	FILE *f = fopen(path, "rb");
	struct qn_buf b = QN_BUF_INIT;
	char chunk[65536];
	size_t got;
	int rc;

	*out = NULL;
	if (!f)
		return qn_err_set(err, errno == ENOENT ? QN_ENOTFOUND : QN_EIO, "%s: %s", path, strerror(errno));
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		qn_buf_append(&b, chunk, got);
	if (ferror(f)) {
		rc = qn_err_set(err, QN_EIO, "%s: read error", path);
		fclose(f);
		qn_buf_release(&b);
		return rc;
	}
	fclose(f);
	rc = qn_tok_load_mem(path, qn_buf_str(&b), b.len, out, err);
	qn_buf_release(&b);
	return rc;
}

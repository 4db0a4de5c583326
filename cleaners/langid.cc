/*
 * langid.cc: language identification with CLD2, behind a C interface.
 *
 * CLD2's API is C++ (namespace CLD2, enums, overloads); this one small
 * file is the only C++ in cleaners/ and turns it into qn_langid(), which
 * the C code calls.  CLD2 keeps no state between calls and is safe to call
 * from several threads at once.
 */
#include <stdio.h>

#include <compact_lang_det.h>
#include <lang_script.h>

#include <string.h>

#include "clean.h"

/*
 * Identifies the language of text[0..n), which must be valid UTF-8 (the
 * document stream guarantees it).  Writes the language code ("en", "de",
 * "zh-Hant"; "un" when CLD2 cannot tell) into code and returns the score:
 * the fraction of the text's letters CLD2 assigned to that language, in
 * [0, 1].  *reliable is CLD2's own verdict on its answer, *letters the
 * bytes of letters it scored (CLD2's text_bytes).
 *
 * ExtDetectLanguageSummary with is_plain_text is already the cheapest
 * entry point: every other one (DetectLanguage included) runs the same
 * DetectLanguageSummaryV2 on the same text, and no public flag makes it
 * do less.
 */
extern "C" double qn_langid_sample(const char *text, size_t n, char code[QN_LANG_CODE],
				   int *reliable, size_t *letters)
{
	CLD2::Language lang3[3];
	int percent3[3], text_bytes = 0;
	bool rel = false;
	CLD2::Language top;
	const char *c;

	if (n > (size_t)0x7fffffff)
		n = 0x7fffffff;
	top = CLD2::ExtDetectLanguageSummary(text, (int)n, true, lang3, percent3,
					     &text_bytes, &rel);
	*reliable = rel;
	*letters = text_bytes > 0 ? (size_t)text_bytes : 0;
	c = CLD2::LanguageCode(top);
	if (!c || !*c)
		c = "un";
	strncpy(code, c, QN_LANG_CODE - 1);
	code[QN_LANG_CODE - 1] = '\0';
	if (top == CLD2::UNKNOWN_LANGUAGE)
		return 0.0;
	/* percent3 is of the text bytes that had letters; lang3[0] is top. */
	return lang3[0] == top ? percent3[0] / 100.0 : 0.0;
}

extern "C" double qn_langid(const char *text, size_t n, char code[QN_LANG_CODE])
{
	size_t letters;
	int reliable;

	return qn_langid_sample(text, n, code, &reliable, &letters);
}

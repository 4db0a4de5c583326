#!/usr/bin/env python3
"""clean-ref.py: an independent reference for quern-clean's measured values.

Written from the definitions in quern-clean(1) (which follow datatrove's
filters), in plain Python, to check the C code on real documents:

    clean-ref.py < normalized.jsonl > measures.jsonl

Each input line is a document whose text is already normalized (run
quern-clean with every step but normalize off to get one).  Each output
line is {"id":..,"m":{"step:measure":value,...}} for the Gopher
repetition, Gopher quality (stop words: English assumed), C4 and FineWeb
measures, the ones the C code computes with langid off.  Documents with
text in scripts written without spaces are skipped (ICU splits those).
"""
import json
import re
import sys
import unicodedata
from collections import Counter

PUNCT = set("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
            + "".join(map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)))))
STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}
NOSPACE = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def wordish(ch):
    cat = unicodedata.category(ch)
    return cat[0] in "LMN"


def spacy(ch):
    cat = unicodedata.category(ch)
    return cat in ("Zs", "Zl", "Zp", "Cc")


def words(text):
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if spacy(ch):
            i += 1
        elif wordish(ch):
            j = i
            while j < n and wordish(text[j]):
                j += 1
            out.append(text[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return out


def ratio(a, b):
    return a / (b if b > 0 else 1)


def find_duplicates(xs):
    seen, dup, chars = set(), 0, 0
    for x in xs:
        if x in seen:
            dup += 1
            chars += len(x)
        else:
            seen.add(x)
    return dup, chars


def gopher_rep(text, m):
    total = len(text)
    paras = re.split(r"\n{2,}", text.strip())
    d, c = find_duplicates(paras)
    m["gopher_repetition:dup_para_frac"] = ratio(d, len(paras))
    m["gopher_repetition:dup_para_char_frac"] = ratio(c, total)
    lines = re.split("\n+", text)
    d, c = find_duplicates(lines)
    m["gopher_repetition:dup_line_frac"] = ratio(d, len(lines))
    m["gopher_repetition:dup_line_char_frac"] = ratio(c, total)
    w = words(text)
    for n in (2, 3, 4):
        grams = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
        v = 0
        if grams:
            g, k = Counter(grams).most_common(1)[0]
            if k >= 2:
                v = ratio((len(" ".join(g))) * k, total)
        m["gopher_repetition:top_%d_gram" % n] = v
    for n in range(5, 11):
        seen, rep, i = set(), 0, 0
        while i < len(w) - n + 1:
            g = tuple(w[i:i + n])
            if g in seen:
                rep += len("".join(g))
                i += n
            else:
                seen.add(g)
                i += 1
        m["gopher_repetition:dup_%d_gram" % n] = ratio(rep, total)


def gopher_quality(text, m):
    w = words(text)
    nonsym = [x for x in w if any(ch not in PUNCT for ch in x)]
    m["gopher_quality:words"] = len(nonsym)
    m["gopher_quality:mean_word_length"] = sum(len(x) for x in nonsym) / len(nonsym) if nonsym else 0
    m["gopher_quality:hash_ratio"] = ratio(text.count("#"), len(w))
    m["gopher_quality:ellipsis_ratio"] = ratio(text.count("...") + text.count("…"), len(w))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    m["gopher_quality:bullet_lines"] = ratio(sum(s.strip().startswith(("•", "-")) for s in lines), len(lines))
    m["gopher_quality:ellipsis_lines"] = ratio(sum(s.strip().endswith(("...", "…")) for s in lines), len(lines))
    m["gopher_quality:alpha_words"] = ratio(sum(any(c.isalpha() for c in x) for x in w), len(w))
    m["gopher_quality:stop_words"] = sum(x in STOP for x in w)


def sentences(line):
    k, seen = 0, True
    for chunk in line.split():
        if seen and any(c.isascii() and c.isalnum() or not c.isascii() for c in chunk):
            k += 1
            seen = False
        e = chunk.rstrip("\"')]")
        if e.endswith((".", "!", "?")) and not e.endswith("..."):
            seen = True
    return k


CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]


def c4(text, m):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    kept, sent, lorem, curly = [], 0, 0, 0
    for line in lines:
        line = line.strip()
        ws = line.split()
        if any(len(x) > 1000 for x in ws):
            continue
        line = CITATION.sub("", line)
        if len(ws) < 3:
            continue
        low = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in line)
        if not lorem and not curly and "lorem ipsum" in low:
            lorem = 1
        if "javascript" in low:
            continue
        if not lorem and not curly and "{" in line:
            curly = 1
        if any(p in low for p in POLICY):
            continue
        sent += sentences(line)
        kept.append(line)
    m["c4:lorem_ipsum"] = lorem
    m["c4:curly_bracket"] = curly
    m["c4:sentences"] = sent
    m["c4:lines_removed"] = ratio(len(lines) - len(kept), len(lines))
    return "\n".join(kept)


def fineweb(text, m):
    lines = text.split("\n")
    m["fineweb:line_punct_ratio"] = ratio(sum(1 for s in lines if s.endswith((".", "'", '"', "!", "?"))), len(lines))
    m["fineweb:short_line_ratio"] = ratio(sum(1 for s in lines if len(s) <= 30), len(lines))
    nonempty = [s for s in lines if s.strip() != ""]
    m["fineweb:char_dup_ratio"] = ratio(find_duplicates(nonempty)[1], len(text.replace("\n", "")))
    m["fineweb:newline_ratio"] = ratio(text.count("\n"), len(words(text)))


for line in sys.stdin:
    d = json.loads(line)
    t = d["text"]
    if NOSPACE.search(t):
        continue
    m = {}
    gopher_rep(t, m)
    gopher_quality(t, m)
    t = c4(t, m)
    fineweb(t, m)
    print(json.dumps({"id": d["id"], "m": m}))

#!/bin/sh
# collect-html-f1.sh: how much of a page's text quern-collect's HTML
# extraction keeps, and how little else.  On python3.11-doc's HTML pages,
# the words of each page's extracted text are compared with the words of
# the reST source it was built from (_sources/PAGE.rst.txt), as bags of
# lowercased letter-and-digit words: precision, recall and F1 per page,
# then the median, quartiles and mean over every page that has a source.  Goal:
# median F1 >= 0.9.  reST markup words (directive names, role names) and
# generated text (index entries, version notes) keep F1 below 1 even for
# a perfect extractor.  Beside it, the same measure for a naive baseline:
# every text node of the page but scripts and styles (Python's
# html.parser), to show what the boilerplate rules are worth.
#
# Then the same measure for each of html.c's two parsers side by side,
# quern's own (what quern-collect uses) and gumbo (the reference it is
# tested against; see collectors/html.h), with the CPU seconds each takes
# to extract the pages (reading and charset conversion not counted),
# through the driver mode of tests/unit/t_html_ref (built if missing).
#
#   bench/collect-html-f1.sh [HTML_DIR]     (needs python3)
set -eu
top=${QN_TOP_BUILDDIR:-$(pwd)}
PATH=$top:$PATH
html=${1:-/usr/share/doc/python3.11/html}
[ -d "$html/_sources" ] || { echo "collect-html-f1: no $html/_sources (apt-get install python3.11-doc)" >&2; exit 77; }
command -v python3 >/dev/null || { echo "collect-html-f1: python3 is needed" >&2; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/collect-f1.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
QUERN_MANIFEST=$tmp/q.db quern-collect -q -o "$tmp/html.jsonl" --include '*.html' --exclude _static \
	--exclude _sources --exclude _images --exclude _downloads "$html"
ref=$top/tests/unit/t_html_ref
[ -x "$ref" ] || make -C "$top" tests/unit/t_html_ref >/dev/null 2>&1 || true
if [ -x "$ref" ]; then
	find "$html" \( -name _static -o -name _sources -o -name _images -o -name _downloads \) -prune -o \
		-name '*.html' -type f -print | LC_ALL=C sort >"$tmp/pages"
	for p in quern gumbo; do
		# one process for all the pages: its CPU line on stderr
		tr '\n' '\0' <"$tmp/pages" | xargs -0 "$ref" --text $p >"$tmp/$p.txt" 2>"$tmp/$p.cpu"
	done
else
	echo "collect-html-f1: no $ref (make check builds it): parsers not compared" >&2
fi
python3 - "$html" "$tmp/html.jsonl" "$tmp" <<'PY'
import json, re, statistics, sys
from collections import Counter
from html.parser import HTMLParser

class AllText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)

def f1(a, b):
    common = sum((a & b).values())
    p = common / max(1, sum(a.values()))
    r = common / max(1, sum(b.values()))
    return (0 if p + r == 0 else 2 * p * r / (p + r)), p, r
from urllib.parse import unquote
root, stream = sys.argv[1], sys.argv[2]
word = re.compile(r"[^\W_]+", re.UNICODE)
def bag(t):
    return Counter(w.lower() for w in word.findall(t))
rows = []
for line in open(stream, encoding="utf-8"):
    d = json.loads(line)
    path = unquote(d["source"][len("file://"):])
    rel = path[len(root.rstrip("/")) + 1:]
    try:
        src = open(f"{root}/_sources/{rel[:-5]}.rst.txt", encoding="utf-8").read()
    except OSError:
        continue
    b = bag(src)
    f, p, r = f1(bag(d["text"]), b)
    naive = AllText()
    naive.feed(open(path, encoding="utf-8", errors="replace").read())
    rows.append((f, p, r, rel, f1(bag(" ".join(naive.out)), b)[0]))
rows.sort()
f1s = [x[0] for x in rows]
print(f"pages with a reST source: {len(rows)}")
q1, _, q3 = statistics.quantiles(f1s, n=4)
print(f"F1 median {statistics.median(f1s):.3f}  quartiles {q1:.3f} {q3:.3f}  mean {statistics.mean(f1s):.3f}  "
      f"precision median {statistics.median(x[1] for x in rows):.3f}  "
      f"recall median {statistics.median(x[2] for x in rows):.3f}")
print(f"pages with F1 >= 0.9: {sum(x >= 0.9 for x in f1s)}  below 0.8: {sum(x < 0.8 for x in f1s)}")
print("lowest:", ", ".join(f"{x[3]} {x[0]:.2f}" for x in rows[:5]))
nf = statistics.median(x[4] for x in rows)
print(f"peer, all text but scripts and styles (html.parser): F1 median {nf:.3f}; "
      f"quern/peer {statistics.median(f1s) / nf:.2f}; goal 0.9: {statistics.median(f1s) / 0.9:.2f}x")

import os
tmp = sys.argv[3]
if os.path.exists(f"{tmp}/quern.txt") and os.path.exists(f"{tmp}/gumbo.txt"):
    texts = {}
    for p in ("quern", "gumbo"):
        recs = open(f"{tmp}/{p}.txt", "rb").read().split(b"\0")
        texts[p] = {recs[i].decode(): recs[i + 1].decode("utf-8", "replace") for i in range(0, len(recs) - 1, 2)}
    # F1 on the pages measured above (quern-collect leaves out pages with no text to keep);
    # the CPU seconds are over every page.
    kept = {x[3] for x in rows}
    print("html.c's two parsers, F1 on the same pages as above; CPU of the extraction on all pages:")
    for p in ("quern", "gumbo"):
        f = []
        for path, t in texts[p].items():
            rel = path[len(root.rstrip("/")) + 1:]
            if rel not in kept:
                continue
            src = open(f"{root}/_sources/{rel[:-5]}.rst.txt", encoding="utf-8").read()
            f.append(f1(bag(t), bag(src))[0])
        a, _, b = statistics.quantiles(f, n=4)
        cpu = open(f"{tmp}/{p}.cpu").read().strip().splitlines()
        print(f"  {p:5}  F1 median {statistics.median(f):.3f}  quartiles {a:.3f} {b:.3f}  mean {statistics.mean(f):.3f}"
              f"  ({len(f)} pages)  {cpu[-1] if cpu else ''}")
    nsame = sum(texts["quern"][k] == texts["gumbo"].get(k) for k in texts["quern"])
    print(f"  pages with the same text from both: {nsame} of {len(texts['quern'])}")
PY

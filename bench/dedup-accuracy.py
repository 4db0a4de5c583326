#!/usr/bin/env python3
"""dedup-accuracy: precision and recall of quern-dedup against known truth.

    dedup-accuracy.py WORKDIR [NBASES]

Real documents (the licences, the packages' copyright files and READMEs,
man pages) are reduced to their lowercase ASCII words, so that the word
5-gram sets computed here are exactly the shingles quern-dedup takes
(words separated by single spaces are what ICU and the ASCII path find).
Mutually unrelated documents (Jaccard < 0.3 to every other) are chosen as
bases; each gets four copies edited to a target Jaccard between 0.45 and
1 by word substitutions, insertions, deletions and swapped paragraphs;
as many unrelated documents again are mixed in, and everything is
shuffled.  The true Jaccard of every pair inside a family is computed
exactly.

quern-dedup (from PATH) then runs at the defaults, with --verify sig and
with --verify exact.  Recall, by band of true similarity: the share of
pairs of which at most one document survives.  Precision: the share of
removed documents whose true similarity to their recorded survivor is at
least 0.7 (near the 14 x 8 curve's midpoint) -- and, looser, 0.5.
"""
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

WORD = re.compile(r"[a-z0-9]+")
NG = 5


def words_of(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read(400000)
        else:
            with open(path, "rb") as f:
                raw = f.read(400000)
    except OSError:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return WORD.findall(text.lower())


def shingles(ws):
    if len(ws) < NG:
        return {tuple(ws)} if ws else set()
    return {tuple(ws[i:i + NG]) for i in range(len(ws) - NG + 1)}


def jaccard(a, b):
    if not a and not b:
        return 0.0
    i = len(a & b)
    return i / (len(a) + len(b) - i)


def sources():
    paths = []
    for d in ("/usr/share/common-licenses",):
        if os.path.isdir(d):
            paths += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    if os.path.isdir("/usr/share/doc"):
        for p in sorted(os.listdir("/usr/share/doc")):
            for f in ("copyright", "README", "README.md", "NEWS.gz", "changelog.gz",
                      "README.Debian", "changelog.Debian.gz"):
                paths.append(os.path.join("/usr/share/doc", p, f))
    for sec in ("man1", "man3", "man5", "man7", "man8"):
        d = os.path.join("/usr/share/man", sec)
        if os.path.isdir(d):
            paths += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    return [p for p in paths if os.path.isfile(p)]


def edit(ws, rate, rng, vocab):
    out = []
    for w in ws:
        r = rng.random()
        if r < rate * 0.5:
            out.append(rng.choice(vocab))
        elif r < rate * 0.75:
            continue
        else:
            out.append(w)
            if r > 1 - rate * 0.25:
                out.append(rng.choice(vocab))
    return out


def paragraphs(ws, n=60):
    return [ws[i:i + n] for i in range(0, len(ws), n)]


def make_copy(base, target, rng, vocab):
    """An edited copy of base (a word list) at about the target Jaccard."""
    bs = shingles(base)
    lo, hi = 0.0, 0.6
    best = None
    for _ in range(10):
        rate = (lo + hi) / 2
        r2 = random.Random(rng.random())
        ws = edit(base, rate, r2, vocab)
        if r2.random() < 0.4:  # swap two paragraphs
            ps = paragraphs(ws)
            if len(ps) > 2:
                i, j = r2.sample(range(len(ps)), 2)
                ps[i], ps[j] = ps[j], ps[i]
                ws = [w for p in ps for w in p]
        j = jaccard(bs, shingles(ws))
        if best is None or abs(j - target) < abs(best[1] - target):
            best = (ws, j)
        if j > target:
            lo = rate
        else:
            hi = rate
    return best[0]


def text_of(ws):
    return "\n\n".join(" ".join(p) for p in paragraphs(ws))


def main():
    work = sys.argv[1]
    nbases = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    os.makedirs(work, exist_ok=True)
    rng = random.Random(1)
    t0 = time.time()

    cands = []
    for p in sources():
        ws = words_of(p)
        if ws and 300 <= len(ws) <= 6000:
            cands.append(ws)
    rng.shuffle(cands)
    vocab = sorted({w for ws in cands[:200] for w in ws})

    # Mutually unrelated documents: J < 0.3 to every one chosen before.
    chosen, sets, index = [], [], defaultdict(list)
    for ws in cands:
        s = shingles(ws)
        ov = Counter()
        for sh in s:
            for k in index.get(sh, ()):
                ov[k] += 1
        if any(c / (len(s) + len(sets[k]) - c) >= 0.3 for k, c in ov.items()):
            continue
        k = len(chosen)
        chosen.append(ws)
        sets.append(s)
        for sh in s:
            index[sh].append(k)
        if len(chosen) >= 2 * nbases:
            break
    nb = min(nbases, len(chosen) // 2)

    docs, family = [], {}
    for b in range(len(chosen)):
        bid = "b%05d" % b
        docs.append((bid, chosen[b]))
        family[bid] = b
        if b < nb:
            for c in range(4):
                target = rng.uniform(0.45, 1.0)
                cid = "b%05dc%d" % (b, c)
                docs.append((cid, make_copy(chosen[b], target, rng, vocab)))
                family[cid] = b
    rng.shuffle(docs)
    corpus = os.path.join(work, "accuracy.jsonl")
    nbytes = 0
    with open(corpus, "w") as f:
        for i, ws in docs:
            t = text_of(ws)
            nbytes += len(t)
            f.write(json.dumps({"id": i, "text": t}) + "\n")

    # The truth: every pair inside a family.
    by_fam = defaultdict(list)
    for i, ws in docs:
        by_fam[family[i]].append((i, shingles(ws)))
    truth = {}
    for fam, members in by_fam.items():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                truth[frozenset((a[0], b[0]))] = jaccard(a[1], b[1])
    print("corpus: %d documents (%d families of 5, %d unrelated), %.1f MB, built in %.0f s"
          % (len(docs), nb, len(chosen) - nb, nbytes / 1e6, time.time() - t0))

    bands = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]
    for name, extra in (("default (no verification)", []),
                        ("--verify sig", ["--verify", "sig"]),
                        ("--verify exact", ["--verify", "exact"])):
        out = os.path.join(work, "out.jsonl")
        cl = os.path.join(work, "clusters.tsv")
        t1 = time.time()
        subprocess.run(["quern-dedup", "-q", "-m", os.path.join(work, "acc.db"),
                        "--clusters", cl, "-o", out] + extra + [corpus], check=True)
        dt = time.time() - t1
        kept = set()
        with open(out) as f:
            for line in f:
                kept.add(json.loads(line)["id"])
        removed = []
        with open(cl) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 5 and p[0] == "":
                    removed.append((p[1], p[3]))
        print("\n== %s: %d removed, %.1f s" % (name, len(removed), dt))
        print("  true J      pairs  caught  recall")
        for lo, hi in bands:
            ps = [k for k, j in truth.items() if lo <= j < hi]
            caught = sum(1 for k in ps if len(k & kept) < 2)
            print("  %.1f-%.1f  %7d %7d  %.3f" % (lo, min(hi, 1.0), len(ps), caught,
                                               caught / len(ps) if ps else float("nan")))
        good7 = sum(1 for d, s in removed if truth.get(frozenset((d, s)), 0) >= 0.7)
        good5 = sum(1 for d, s in removed if truth.get(frozenset((d, s)), 0) >= 0.5)
        n = max(len(removed), 1)
        print("  precision: %.4f (true J >= 0.7 to the survivor), %.4f (>= 0.5)"
              % (good7 / n, good5 / n))


if __name__ == "__main__":
    main()

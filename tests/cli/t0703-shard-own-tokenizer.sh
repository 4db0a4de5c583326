#!/bin/sh
# The pipeline's own path, needing no npm peer: quern-bpe-train learns a
# tokenizer.json from documents (fortunes, python3.11's docs when
# present), quern-shard shards the documents with it, and decoding the
# shards gives back "<|endoftext|>" + each document's text; verify
# passes, the vocabulary and hash in shards.meta and in every header are
# the tokenizer's, and with --format megatron the .idx describes the
# .bin sequence by sequence.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -d /usr/share/games/fortunes ] || skip_all "fortunes not installed"
src=/usr/share/games/fortunes
for f in /usr/share/doc/python3.11/README.rst.gz /usr/share/doc/python3.11/NEWS.gz; do [ -f "$f" ] && src="$src $f"; done
ok "collect documents" quern-collect -q -o docs.jsonl $src
ok "train a 2000-id tokenizer" quern-bpe-train -q --vocab-size 2000 -o tok.json docs.jsonl
ok "shard with it" quern-shard -q -t tok.json -o own --shard-tokens 50k --val-fraction 0.1 docs.jsonl
ok "verify" quern-shard verify -q own
if command -v sqlite3 >/dev/null 2>&1; then
	is "the tokenizer is an input of the shard run, so lineage reaches it" \
		"$T/tok.json" \
		"$(sqlite3 "$QUERN_MANIFEST" "SELECT f.path FROM run_files rf JOIN files f ON f.id = rf.file
			JOIN runs r ON r.id = rf.run WHERE r.tool = 'quern-shard' AND rf.role = 'input' AND f.path LIKE '%tok.json'")"
	like "lineage of a shard names the tokenizer run" "quern-bpe-train" "$(quern-manifest lineage own/train_000000.bin)"
else
	skip "the tokenizer is an input of the shard run" "sqlite3 not installed"
	skip "lineage of a shard names the tokenizer run" "sqlite3 not installed"
fi
like "shards.meta has the vocabulary" "^vocab_size 2000$" "$(cat own/shards.meta)"
like "the end-of-text id" "^eot [0-9]+$" "$(grep '^eot' own/shards.meta)"
eot=$(sed -n 's/^eot //p' own/shards.meta)
set -- $(od -A n -t d4 -j 20 -N 8 own/train_000000.bin) x x
is "header[5] is the vocabulary" 2000 "$1"
is "header[6] is the end-of-text id" "$eot" "$2"

# Decode every split and compare with the documents.
for sp in train val; do
	: > dec.$sp; : > list.$sp
	for f in own/${sp}_*.bin; do
		quern-shard inspect -t tok.json --all "$f" >> dec.$sp
		quern-shard inspect --docs "$f" >> list.$sp
	done
done
ok "both splits decode to <|endoftext|> + each document's text" python3 - docs.jsonl <<'EOF'
import json, sys
texts = {}
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    texts[d["id"]] = d["text"]
seen = 0
for sp in ("train", "val"):
    order = [l.split()[1] for l in open("list." + sp) if l.startswith("doc ") and "continued" not in l]
    seen += len(order)
    want = "".join("<|endoftext|>" + texts[i] for i in order).encode()
    if open("dec." + sp, "rb").read() != want:
        sys.exit("split %s differs" % sp)
if seen != len(texts):
    sys.exit("%d documents in the shards, %d in the stream" % (seen, len(texts)))
EOF

# Megatron: the .idx sizes and pointers walk the .bin, each sequence ends
# with the end-of-text token.
ok "shard as Megatron" quern-shard -q -t tok.json -o mega --format megatron --shard-tokens 50k docs.jsonl
ok "verify Megatron" quern-shard verify -q mega
ok "every sequence ends with the end-of-text token" python3 - mega "$eot" <<'EOF'
import glob, struct, sys
eot, seqs = int(sys.argv[2]), 0
for idx in sorted(glob.glob(sys.argv[1] + "/*.idx")):
    b = open(idx, "rb").read()
    assert b[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", b[9:17])[0] == 1
    dtype, n, nd = b[17], *struct.unpack("<QQ", b[18:34])
    assert dtype == 8 and nd == n + 1
    sizes = struct.unpack("<%di" % n, b[34:34 + 4 * n])
    ptrs = struct.unpack("<%dq" % n, b[34 + 4 * n:34 + 12 * n])
    data = open(idx[:-4] + ".bin", "rb").read()
    for s, p in zip(sizes, ptrs):
        assert struct.unpack("<H", data[p + 2 * (s - 1):p + 2 * s])[0] == eot
    seqs += n
assert seqs > 0
EOF
done_testing

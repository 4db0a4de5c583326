# train-data.sh: sourced by the trainer's CLI tests (t08xx, t09xx) after
# lib.sh.  Makes $T/shards, token shards of real text (the fortunes of
# the fortunes packages, one document per fortune), and sets $TOK to the
# GPT-2 tokenizer of npm's tiktoken.
#
# With quern-shard built, the shards come from the pipeline itself:
# quern-collect, then quern-shard with a validation fraction, so the
# manifest's lineage reaches the fortune files.  Without it they are
# written by tests/trainer-mkshards, a test-only writer of the same
# format (every tenth document to val).
#
# The fast path runs on one thread in the tests: the machine is shared,
# and resumed runs are bit for bit the same only with the same counts.
TOK=${QN_PEERS:-}/tiktoken/encoders/gpt2.json
[ -f "$TOK" ] || skip_all "no GPT-2 tokenizer from npm's tiktoken in QN_PEERS"
FORT=/usr/share/games/fortunes
[ -f "$FORT/computers" ] && [ -f "$FORT/science" ] || skip_all "no fortunes (fortunes-min/fortune-mod)"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMP_NUM_THREADS OPENBLAS_NUM_THREADS

mkdir -p "$T/src"
# one file per fortune
awk -v dir="$T/src" '
	FNR == 1 { f++; n = 0 }
	/^%$/ { n++; next }
	{ print > sprintf("%s/%02d-%04d.txt", dir, f, n) }
' "$FORT/computers" "$FORT/science"
if command -v quern-shard >/dev/null 2>&1; then
	quern-collect -q -o "$T/docs.jsonl.zst" "$T/src" &&
	quern-shard -q -t "$TOK" -o "$T/shards" --val-fraction 0.1 "$T/docs.jsonl.zst" ||
		{ echo "Bail out! could not make the shards with quern-shard"; exit 1; }
	SHARDS_BY=quern-shard
elif [ -x "${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" ]; then
	"${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" "$TOK" "$T/shards" 40000 "$T"/src/* ||
		{ echo "Bail out! could not make the shards"; exit 1; }
	SHARDS_BY=trainer-mkshards
else
	skip_all "neither quern-shard nor tests/trainer-mkshards is built"
fi
echo "# shards made by $SHARDS_BY"

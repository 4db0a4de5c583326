#!/bin/sh
# quern-sample at its edges: usage errors, a tokenizer other than the
# checkpoint's, a corrupt checkpoint, a prompt past the context, the
# context filling up (the number of tokens is the positions left), and
# stopping at end-of-text, shown by a model trained here on documents
# that are all "a\n": it learns "<|endoftext|> a \n" and its greedy
# continuation of "a" is "\n" and then the end of the text.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
command -v sqlite3 >/dev/null 2>&1 || skip_all "no sqlite3"
quern-train -q -o ckpt --layers 2 --heads 2 --width 32 -B 4 -T 16 --steps 5 shards ||
	{ echo "Bail out! could not train the model"; exit 1; }
C=ckpt/step-000005.ckpt

fails 2 "no checkpoint" quern-sample -t "$TOK"
fails 2 "no tokenizer" quern-sample -c $C
fails 2 "an operand" quern-sample -c $C -t "$TOK" extra
fails 2 "a negative temperature" quern-sample -c $C -t "$TOK" --temperature -1
fails 2 "top-p above 1" quern-sample -c $C -t "$TOK" --top-p 1.5
fails 2 "top-p 0" quern-sample -c $C -t "$TOK" --top-p 0
ok "--help" quern-sample --help
fails 1 "a missing checkpoint" quern-sample -c nothere.ckpt -t "$TOK"
like "is named" 'nothere.ckpt' "$(err)"
head -c 5000 $C > short.ckpt
fails 1 "a truncated checkpoint" quern-sample -c short.ckpt -t "$TOK"
like "says truncated" 'short.ckpt: truncated' "$(err)"
CL=${QN_PEERS}/tiktoken/encoders/cl100k_base.json
if [ -f "$CL" ]; then
	fails 1 "another tokenizer than the checkpoint's" quern-sample -c $C -t "$CL"
	like "names both hashes" 'trained with tokenizer [0-9a-f]{32}, but .*cl100k_base.json is [0-9a-f]{32}' "$(err)"
else
	skip "another tokenizer" "no cl100k_base.json"
fi
fails 1 "a prompt longer than the context (16)" quern-sample -c $C -t "$TOK" \
	--prompt "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
like "says so" 'context 16' "$(err)"

# The context fills up: "<|endoftext|>The computer" is 3 tokens, so 14 more.
ok "sampling to the end of the context" quern-sample -c $C -t "$TOK" --prompt "The computer" --no-stop -n 1000
is "14 tokens, the 16 positions less the prompt's 3 plus the last prediction" '{"tokens":14}' \
	"$(sql "SELECT counters FROM runs WHERE tool = 'quern-sample' ORDER BY id DESC LIMIT 1")"
ok "-n 5" quern-sample -c $C -t "$TOK" --prompt "The computer" --no-stop -n 5
is "5 tokens" '{"tokens":5}' \
	"$(sql "SELECT counters FROM runs WHERE tool = 'quern-sample' ORDER BY id DESC LIMIT 1")"

# Stopping at end-of-text.
if [ "$SHARDS_BY" = trainer-mkshards ] || [ -x "${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" ]; then
	awk 'BEGIN { for (i = 0; i < 400; i++) printf "a\n%%\n" }' > cyc.txt
	"${QN_TOP_BUILDDIR:-.}/tests/trainer-mkshards" "$TOK" cyc 100000 cyc.txt
	ok "train on 'a' documents" quern-train -q -o cyck --layers 2 --heads 2 --width 32 \
		-B 4 -T 16 --steps 90 --lr 1e-2 --min-lr 1e-3 --warmup 10 --val-every 0 cyc
	ok "greedy after 'a'" quern-sample -c cyck/step-000090.ckpt -t "$TOK" --prompt a --temperature 0
	is "is a newline, then the end of the text" "$(printf '\n\nx')" "$(out; printf x)"
	ok "with --no-stop it goes on" quern-sample -c cyck/step-000090.ckpt -t "$TOK" --prompt a \
		--temperature 0 --no-stop -n 7
	is "through two more documents" "$(printf '\n<|endoftext|>a\n<|endoftext|>a\n\nx')" "$(out; printf x)"
else
	skip "stopping at end-of-text" "tests/trainer-mkshards not built"
fi
done_testing

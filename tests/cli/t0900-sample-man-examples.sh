#!/bin/sh
# The EXAMPLES of quern-sample(1), run as the page prints them with a
# model trained here for 20 steps on shards of real text, then what the
# page says of them: the greedy output begins with the prompt, and the
# same seed gives the same text while another seed gives another.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/cli/train-data.sh"
cp "$TOK" gpt2.json
quern-train -q -o ckpt --layers 2 --heads 2 --width 32 -B 4 -T 16 --steps 20 shards ||
	{ echo "Bail out! could not train the model"; exit 1; }

awk '
	/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
	ex && /^\.Bd -literal/ { lit = 1; next }
	lit && /^\.Ed/ { lit = 0; next }
	lit { print }
' "$SRC/man/quern-sample.1" |
	sed -e 's/\\-/-/g' -e 's/\\e/\\/g' |
	awk '/\\$/ { sub(/ *\\$/, ""); buf = buf $0 " "; next }
	     { print buf $0; buf = "" }' |
	sed -e 's/  */ /g' -n -e 's/^\$ //p' > "$T/.cmds"

ex() {
	is "example $1 is in the page" "$2" "$(sed -n "$1p" "$T/.cmds")"
	ok "example $1: $2" sh -c "$2"
	cp "$T/.out" "$T/ex.$1"
}

ex 1 'quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --prompt "The computer" -n 40'
ok "it writes text" test -s ex.1
ex 2 'quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --prompt "The computer" -n 10 --temperature 0 --echo'
like "greedy, prompt included" '^The computer.' "$(cat ex.2)"
ok "greedy again: the same text" sh -c 'quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --prompt "The computer" -n 10 --temperature 0 --echo --seed 99 | cmp -s - ex.2'
ex 3 'quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --top-k 40 --top-p 0.9 --temperature 0.8 --seed 7 -n 30'
ok "the same seed: the same text" sh -c 'quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --top-k 40 --top-p 0.9 --temperature 0.8 --seed 7 -n 30 | cmp -s - ex.3'
ok "another seed: other text" sh -c '! quern-sample -c ckpt/step-000020.ckpt -t gpt2.json --top-k 40 --top-p 0.9 --temperature 0.8 --seed 8 -n 30 | cmp -s - ex.3'
is "every example of the page ran" "$(wc -l < "$T/.cmds" | tr -d ' ')" 3
is "runs recorded with the checkpoint and tokenizer as inputs" 2 \
	"$(sqlite3 -batch -noheader "$QUERN_MANIFEST" "SELECT count(DISTINCT f.path) FROM run_files rf JOIN files f ON f.id = rf.file JOIN runs r ON r.id = rf.run WHERE r.tool = 'quern-sample'")"
done_testing

#!/bin/sh
# The EXAMPLES of quern-shard(1) and quern-shard(5), read out of the
# pages and run as printed (continuation lines joined), on a document
# stream of fortunes and with the GPT-2 encoding of npm's tiktoken
# copied in as gpt2.json; each must exit 0, and their output is
# checked.  A page whose examples change fails here until this follows.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"

GPT2=${QN_PEERS:-}/tiktoken/encoders/gpt2.json
[ -f "$GPT2" ] || skip_all "npm tiktoken peer not installed ($GPT2)"
command -v zstd >/dev/null 2>&1 || skip_all "zstd not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -d /usr/share/games/fortunes ] || skip_all "fortunes not installed"

# The "$ " command lines of a page's EXAMPLES, continuations joined.
commands() {
	awk '
		/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
		ex && /^\.Bd -literal/ { lit = 1; next }
		lit && /^\.Ed/ { lit = 0; next }
		lit { print }
	' "$SRC/man/$1" |
	sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\e/\\/g' |
	awk '/^\$ / { if (cmd != "") print cmd; cmd = substr($0, 3); next }
	     /^    / && cmd ~ /\\$/ { sub(/\\$/, "", cmd); sub(/^ +/, " "); cmd = cmd $0; next }
	     END { if (cmd != "") print cmd }'
}

cp "$GPT2" gpt2.json
quern-collect -q -o docs.jsonl.zst /usr/share/games/fortunes
commands quern-shard.1 > cmds.1
commands quern-shard.5 > cmds.5
is "quern-shard(1) has 8 example commands" 8 "$(wc -l < cmds.1 | tr -d ' ')"
is "quern-shard(5) has 2" 2 "$(wc -l < cmds.5 | tr -d ' ')"

# Run them one after the other in one shell, as a user would type them,
# each one's output in out.N.
n=0
while IFS= read -r c; do
	n=$((n + 1))
	printf '%s\n' "$c" > cmd.$n
done < cmds.1
i=1
while [ $i -le $n ]; do
	# $id from the example that sets it is kept for the next ones.
	ok "quern-shard.1: $(cat cmd.$i)" sh -c "[ -f env ] && . ./env; $(cat cmd.$i) > out.$i; s=\$?; [ -n \"\${id:-}\" ] && echo \"id=\$id\" > env; exit \$s"
	i=$((i + 1))
done
ok "the shards are 1M tokens each" sh -c "[ \$(od -A n -t d4 -j 8 -N 4 shards/train_000000.bin) -eq 1000000 ] || [ ! -e shards/train_000001.bin ]"
like "verify says ok" "^ok train_000000.bin" "$(cat out.2)"
like "inspect shows the header" "magic 20240520" "$(cat out.3)"
like "the window starts with the end-of-text" "^<\|endoftext\|>" "$(cat out.4)"
[ -f env ] && . ./env
python3 - "$id" out.6 <<'EOF'
import json, subprocess, sys
text = None
for line in subprocess.run(["zstd", "-dc", "docs.jsonl.zst"], capture_output=True).stdout.decode().splitlines():
    d = json.loads(line)
    if d["id"] == sys.argv[1]:
        text = d["text"]
got = open(sys.argv[2], "rb").read()
sys.exit(0 if text is not None and (text.encode() == got or text.encode().startswith(got)) else 1)
EOF
st=$?
ok "--doc printed the document (or its piece in that shard)" test $st -eq 0
like "why shows where it was sharded" "sharded .*shards/val_000000.bin" "$(cat out.7)"
ok "the Megatron output verifies" quern-shard verify -q mega
ok "its index starts with MMIDIDX" sh -c "head -c 7 mega/train_000000.idx | grep -q MMIDIDX"

while IFS= read -r c; do
	ok "quern-shard.5: $c" sh -c "$c > out.5x"
done < cmds.5
like "od shows magic, version and count" "20240520 +1 +[0-9]+" "$(od -A d -t d4 -N 12 shards/train_000000.bin)"
like "and the first token is the end-of-text (50256)" "^0001024 +50256" "$(od -A d -t u2 -j 1024 -N 16 shards/train_000000.bin)"
done_testing

// tiktoken-ids.js: ids from npm tiktoken, for tests/unit/t_tok_exact.c.
// node tiktoken-ids.js ENCODING FILE... writes FILE.ENCODING.ids, one id a line.
const { get_encoding } = require("tiktoken");
const fs = require("fs");
const enc = get_encoding(process.argv[2]);
for (const f of process.argv.slice(3)) {
	const ids = enc.encode_ordinary(fs.readFileSync(f, "utf8"));
	fs.writeFileSync(f + "." + process.argv[2] + ".ids", Array.from(ids).join("\n") + "\n");
}
enc.free();

#!/bin/sh
# quern-collect on text in other encodings (made here with iconv:
# Latin-1, windows-1252, Shift_JIS, UTF-16LE with a BOM, KOI8-R) and on
# HTML: every text comes out as the same UTF-8, the charset recorded in
# meta; invalid sequences become U+FFFD and are counted; HTML keeps its
# headings, paragraphs, lists, tables and code and loses its scripts,
# styles, navigation and boilerplate, on hand-made pages and on
# python3.11-doc's.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
have iconv || skip_all "iconv is not installed"

text() { jq -r "select(.source | endswith(\"/$1\")) | .text" cs.jsonl; }
charset() { jq -r "select(.source | endswith(\"/$1\")) | .meta.charset" cs.jsonl; }

mkdir cs
printf 'Ça coûte cher, où est le château? Voilà déjà le mois d’août à Noël, naïve façade.\n' > fr.txt
printf 'The “smart quotes” cost 5€ — a dash, a naïve café, and ‘single’ ones.\n' > smart.txt
printf '日本語のテキストです。これはシフトJISでエンコードされた文章で、文字コードの検出を試験します。東京都は日本の首都です。\n' > ja.txt
printf 'Hello UTF-16 world, 你好, Grüße\n' > u16.txt
printf 'Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.\n' > ru.txt
iconv -f UTF-8 -t ISO-8859-1//TRANSLIT fr.txt > cs/fr.latin1 2>/dev/null || iconv -f UTF-8 -t ISO-8859-1 fr.txt > cs/fr.latin1
iconv -f UTF-8 -t WINDOWS-1252 smart.txt > cs/smart.cp1252
iconv -f UTF-8 -t SHIFT_JIS ja.txt > cs/ja.sjis
{ printf '\377\376'; iconv -f UTF-8 -t UTF-16LE u16.txt; } > cs/u16.txt
iconv -f UTF-8 -t KOI8-R ru.txt > cs/ru.koi8
cp smart.txt cs/utf8.txt
ok "collect text in five encodings" quern-collect -q -o cs.jsonl cs
is "six documents" 6 "$(wc -l < cs.jsonl | tr -d ' ')"
is "Latin-1 decoded" "$(iconv -f ISO-8859-1 -t UTF-8 cs/fr.latin1)" "$(text fr.latin1)"
is "Latin-1 recorded" ISO-8859-1 "$(charset fr.latin1)"
is "windows-1252 decoded (quotes, euro, dash)" "$(cat smart.txt)" "$(text smart.cp1252)"
is "windows-1252 recorded" windows-1252 "$(charset smart.cp1252)"
is "Shift_JIS decoded" "$(cat ja.txt)" "$(text ja.sjis)"
is "Shift_JIS recorded" Shift_JIS "$(charset ja.sjis)"
is "UTF-16LE with a BOM decoded" "$(cat u16.txt)" "$(text u16.txt)"
is "UTF-16LE recorded" UTF-16LE "$(charset u16.txt)"
is "KOI8-R decoded" "$(cat ru.txt)" "$(text ru.koi8)"
is "KOI8-R recorded" KOI8-R "$(charset ru.koi8)"
is "UTF-8 text is as it was, with no meta" "$(cat smart.txt)|null" "$(text utf8.txt)|$(charset utf8.txt)"
ok "every text written is valid UTF-8" sh -c 'jq -j .text cs.jsonl | iconv -f UTF-8 -t UTF-8 >/dev/null'

# Declared charsets: <meta charset>, http-equiv, a UTF-8 BOM; replacements counted.
printf '<html><head><meta charset="iso-8859-1"><title>Caf\351</title></head><body><p>d\351j\340 vu</p></body></html>' > m1.html
printf '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r"></head><body><p>\327\301\326\316\317</p></body></html>' > m2.html
printf '\357\273\277bom then text\n' > bom.txt
printf '<html><head><meta charset="utf-8"></head><body><p>bad \377 byte and \300\200 overlong</p></body></html>' > bad.html
ok "declared charsets" quern-collect -q -o m.jsonl m1.html m2.html bom.txt bad.html
is "<meta charset>" "déjà vu|ISO-8859-1|Café" "$(jq -r 'select(.source | endswith("/m1.html")) | "\(.text)|\(.meta.charset)|\(.meta.title)"' m.jsonl)"
is "http-equiv" "важно|KOI8-R" "$(jq -r 'select(.source | endswith("/m2.html")) | "\(.text)|\(.meta.charset)"' m.jsonl)"
is "a UTF-8 BOM is dropped" "bom then text" "$(jq -r 'select(.source | endswith("/bom.txt")) | .text' m.jsonl)"
is "invalid bytes in declared UTF-8 become U+FFFD" "bad � byte and �� overlong" \
	"$(jq -r 'select(.source | endswith("/bad.html")) | .text' m.jsonl)"
is "and are counted in meta" 3 "$(jq -r 'select(.source | endswith("/bad.html")) | .meta.replaced' m.jsonl)"

# HTML: structure kept, boilerplate dropped.
cat > page.html <<'HTML'
<!DOCTYPE html>
<html><head><title>A page</title><style>p { color: red }</style>
<script>var tracking = "do not keep";</script></head>
<body>
<header><a href="/">Site name</a> <a href="/about">About</a></header>
<nav><ul><li><a href="/a">Menu A</a></li><li><a href="/b">Menu B</a></li></ul></nav>
<div class="breadcrumbs"><a href="/">Home</a> » <a href="/docs">Docs</a></div>
<div role="main">
<h1>Main heading<a class="headerlink" href="#main">¶</a></h1>
<p>First paragraph with <b>bold</b> and <a href="/x">a link</a> inside.</p>
<ul><li>apple</li><li>banana</li></ul>
<ol><li>first</li><li>second</li></ol>
<table><tr><th>name</th><th>value</th></tr><tr><td>x</td><td>1</td></tr></table>
<pre>def f(x):
    return x + 1</pre>
<div class="related"><a href="/p">Previous</a> | <a href="/n">Next</a> | <a href="/i">Index</a></div>
<ul><li><a href="/1">link one</a></li><li><a href="/2">link two</a></li><li><a href="/3">link three</a></li></ul>
</div>
<aside>Related posts</aside>
<div class="sidebar">Sidebar words</div>
<footer>© 2026 Footer words</footer>
</body></html>
HTML
ok "extract a page" quern-collect -q -o - page.html
out | jq -r .text > page.txt
is "headings, paragraphs, lists, tables and code, as readable text" "$(cat <<'TXT'
Main heading

First paragraph with bold and a link inside.

- apple
- banana

1. first
2. second

name | value
x | 1

def f(x):
    return x + 1
TXT
)" "$(cat page.txt)"
is "the title goes to meta" "A page|html" "$(out | jq -r '"\(.meta.title)|\(.meta.format)"')"

# The parser's rules (html.c builds its own tree): end tags implied by
# start tags, character references, raw text, newlines, tag soup, content
# that is never text, and foreign content left by an HTML tag.
html() { quern-collect -q -o - "$1" | jq -r .text; }
printf '<html><body><p>one<p>two<ul><li>a<li>b</ul><dl><dt>term<dd>def</dl><table><tr><td>a<td>b<tr><td>c<td>d</table>tail</body></html>' > implied.html
is "implied end tags: p, li, dt/dd, td, tr" "$(printf 'one\n\ntwo\n\n- a\n- b\n\nterm\ndef\n\na | b\nc | d\n\ntail')" "$(html implied.html)"
printf '<p>&amp; &lt;x&gt; &#65;&#x42; &#128; &copy 2026 &nbsp;&hellip; &bogus; &mapsto; &#0; &#xD800; a&b &amp</p>' > refs.html
is "character references: named (HTML 4's, HTML5's common ones, legacy without ';'), numeric, bogus" \
	"$(printf '& <x> AB \342\202\254 \302\251 2026 \302\240\342\200\246 &bogus; \342\206\246 \357\277\275 \357\277\275 a&b &')" "$(html refs.html)"
printf '<body><script>if (a<b) document.write("<p>no</p>")</script><style>p{}</style><p>kept</p><textarea>no</textarea><xmp><b>shown</b></xmp></body>' > raw.html
is "raw text: script, style and textarea dropped, xmp kept as written" "$(printf 'kept\n\n<b>shown</b>')" "$(html raw.html)"
printf '<p>a\r\nb\rc</p><pre>\nline1\r\n  line2\n</pre><pre>\n\nkeep one</pre>' > nl.html
is "CR LF and CR; the first newline of a <pre> dropped, one only" "$(printf 'a b c\n\nline1\n  line2\n\n\nkeep one')" "$(html nl.html)"
printf '<pre><!-- c -->\n\n  code\n</pre>' > pre.html
is "no blank line first, even from a <pre>" "  code" "$(html pre.html)"
printf '<h3><a name="x"/>Heading</h3><p>Body text after a self-closed anchor, long enough to count.</p><p>More body text here.</p>' > anchor.html
is "an <a/> left open ends with its heading (not the rest of the page as one link)" \
	"$(printf 'Heading\n\nBody text after a self-closed anchor, long enough to count.\n\nMore body text here.')" "$(html anchor.html)"
printf '<p>before<!-- <p>hidden</p> -->after<!---->x</p>text</p>more<p>cut<b' > soup.html
is "comments, a stray </p>, a tag cut by the end of the page" "$(printf 'beforeafterx\n\ntext\n\nmore\n\ncut')" "$(html soup.html)"
printf '<div><nav><div>menu <a href=/>x</a></div></nav><template><p>t</p></template><svg><title>svg title</title><p>in svg</p></svg><math><mi>x</mi></math>visible</div>' > drop.html
is "nav, template, svg and math dropped; a <p> ends an open <svg>" "$(printf 'in svg\n\nvisible')" "$(html drop.html)"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "<div><b><x-y>"; printf "deep"; for (i = 0; i < 100000; i++) printf "</span></td></x-z>"; }' > deep.html
ok "100000 levels of nesting and 300000 stray end tags" quern-collect -q -o deep.jsonl deep.html
is "text below the depth limit is kept (the elements deeper than it are not)" "deep" "$(jq -r .text deep.jsonl)"

# python3.11-doc's pages: the text of the page, not its frame.
py=/usr/share/doc/python3.11/html
if [ -f "$py/library/json.html" ]; then
	ok "a Sphinx page" quern-collect -q -o - "$py/library/json.html"
	out | jq -r .text > json.txt
	like "keeps the heading" '^json — JSON encoder and decoder' "$(head -n 1 json.txt)"
	ok "keeps the code examples" grep -q 'json.dumps(\[.foo., {.bar.: (.baz., None, 1.0, 2)}\])' json.txt
	is "drops the sidebar and the navigation bars" "" \
		"$(grep -x -e 'Navigation' -e 'This Page' -e 'Report a Bug' -e 'Show Source' -e 'Table of Contents' json.txt)"
	is "drops the permalink markers" "" "$(grep '¶' json.txt)"
	is "drops the footer" "" "$(grep 'Python Software Foundation' json.txt)"
	ok "collect the tutorial, deterministically" quern-collect -q -j2 -o t1.jsonl --include '*.html' "$py/tutorial"
	ok "twice" quern-collect -q -j1 -o t2.jsonl --include '*.html' "$py/tutorial"
	ok "with the same bytes" cmp t1.jsonl t2.jsonl
	is "every page is a document" "$(ls "$py"/tutorial/*.html | wc -l | tr -d ' ')" "$(wc -l < t1.jsonl | tr -d ' ')"
	ok "the same with --html-parser gumbo" quern-collect -q -j2 --html-parser gumbo -o t3.jsonl --include '*.html' "$py/tutorial"
	ok "gives the same documents" cmp t1.jsonl t3.jsonl
else
	skip "a Sphinx page" "python3.11-doc is not installed"
fi

# The man page's example.
cp cs.jsonl docs.jsonl
ok "example: count the charsets" sh -c \
	"jq -r '.meta.charset // \"UTF-8\"' docs.jsonl | sort | uniq -c"
is "example: six charsets" 6 "$(out | wc -l | tr -d ' ')"
done_testing

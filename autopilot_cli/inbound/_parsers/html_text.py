"""HTML mail to plain text, with the stdlib ``html.parser``.

Only what a reader would see is kept: ``<script>``, ``<style>`` and ``<head>``
are dropped, and so is *hidden* text (``display:none``, ``visibility:hidden``,
``font-size:0``, ``opacity:0``, the ``hidden`` attribute). Hidden text is how a
prompt injection hides from the human recipient while still reaching a model
that reads the mail, so its presence is reported (``HtmlText.hidden_text``)
rather than silently discarded.

With ``drop_quotes=True`` the quoted history that mail clients mark up in HTML
(Gmail's ``gmail_quote``, Apple Mail's ``<blockquote type="cite">``, Yahoo's
``yahoo_quoted``, Thunderbird's ``moz-cite-prefix``) and Gmail's
``gmail_signature`` are dropped as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Content that is never rendered as text.
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
# Elements that cannot have content: they are never pushed on the open-element stack.
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre"})

_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    r"|font-size\s*:\s*0*\.?0+\s*(?:px|pt|em|rem|%)?\s*(?:!important)?\s*(?:;|$)"
    r"|opacity\s*:\s*0*\.?0+\s*(?:!important)?\s*(?:;|$)|mso-hide\s*:\s*all)",
    re.IGNORECASE,
)
_QUOTE_CLASSES = frozenset(
    {"gmail_quote", "gmail_quote_container", "yahoo_quoted", "moz-cite-prefix", "gmail_signature"}
)
_DECLARATION = re.compile(r"<!(?!--)[^>]*>?")
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})


@dataclass(frozen=True)
class HtmlText:
    text: str
    hidden_text: bool
    """True when the HTML held non-blank text a reader would not see."""


@dataclass(frozen=True)
class HtmlTexts:
    """Everything the e-mail parser wants from one HTML part, from one parse."""

    full: str
    """The visible text, quoted history included."""
    reply: str
    """The visible text without client-marked quotes and signatures."""
    hidden_text: bool
    truncated: bool
    """True when the HTML was longer than MAX_HTML_CHARS and only its start was read."""


# HTML longer than this is cut before parsing: no human reply comes near, and the
# work (and the text handed to the drafter) stays bounded whatever the sender sends.
MAX_HTML_CHARS = 1_000_000


@dataclass
class _Open:
    tag: str
    skip: bool
    hidden: bool
    quote: bool


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs:
        return True
    style = attrs.get("style") or ""
    return bool(_HIDDEN_STYLE.search(style))


def _is_quote(tag: str, attrs: dict[str, str | None]) -> bool:
    classes = set((attrs.get("class") or "").lower().split())
    if classes & _QUOTE_CLASSES:
        return True
    if (attrs.get("id") or "").lower() in _QUOTE_IDS:
        return True
    return tag == "blockquote" and (attrs.get("type") or "").lower() == "cite"


class _Sink:
    """One output text: chunks, and the line breaks owed before the next text
    (adjacent blocks share one break instead of stacking up blank lines)."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pending = 0

    def emit(self, text: str) -> None:
        if self.pending and self.chunks:
            self.chunks.append("\n" * self.pending)
        self.pending = 0
        self.chunks.append(text)

    def space(self) -> None:
        if not self.pending:
            self.chunks.append(" ")

    def brk(self, tag: str) -> None:
        if tag == "br":
            self.pending += 1
        elif tag in _PARAGRAPH_TAGS:
            self.pending = max(self.pending, 2)
        elif tag in _BLOCK_TAGS:
            self.pending = max(self.pending, 1)


class _TextExtractor(HTMLParser):
    """Both texts (full and without quotes) in one pass, in time linear in the input:
    what is suppressed is counted, not searched for up the stack, and an end tag
    with no open element of its name is dropped without a search (mail with
    tens of thousands of stray end tags took a minute)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Open] = []
        self.open_counts: dict[str, int] = {}
        self.skip = self.hidden = self.quote = self.pre_depth = 0
        self.full = _Sink()
        self.reply = _Sink()
        self.hidden_text = False

    def _push(self, entry: _Open) -> None:
        self.stack.append(entry)
        self.open_counts[entry.tag] = self.open_counts.get(entry.tag, 0) + 1
        self.skip += entry.skip
        self.hidden += entry.hidden
        self.quote += entry.quote
        self.pre_depth += entry.tag == "pre"

    def _pop(self) -> None:
        entry = self.stack.pop()
        self.open_counts[entry.tag] -= 1
        self.skip -= entry.skip
        self.hidden -= entry.hidden
        self.quote -= entry.quote
        self.pre_depth -= entry.tag == "pre"

    def _emit(self, text: str) -> None:
        if self.skip or self.hidden:
            return  # a list marker inside hidden content is not visible either
        self.full.emit(text)
        if not self.quote:
            self.reply.emit(text)

    def _break(self, tag: str) -> None:
        self.full.brk(tag)
        self.reply.brk(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr_map = {k.lower(): v for k, v in attrs}
        self._break(tag)
        if tag == "li":
            self._emit("- ")
        elif tag in ("td", "th"):
            self._emit(" ")
        if tag in _VOID_TAGS:
            return
        self._push(_Open(tag, tag in _SKIP_TAGS, _is_hidden(attr_map), _is_quote(tag, attr_map)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        # Mail HTML is rarely well formed: close up to the nearest matching
        # open element and ignore stray end tags. Each element is popped once,
        # so the search costs no more than the pushes did.
        if self.open_counts.get(tag):
            while self.stack[-1].tag != tag:
                self._pop()
            self._pop()
        self._break(tag)

    def handle_data(self, data: str) -> None:
        if self.skip or self.hidden:
            if data.strip() and not self.skip:
                self.hidden_text = True
            return
        if self.pre_depth:
            self._emit(data)
        elif data.strip():
            self._emit(re.sub(r"\s+", " ", data))
        else:
            self.full.space()
            if not self.quote:
                self.reply.space()


def _tidy(text: str) -> str:
    text = text.replace("\xa0", " ").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.strip(" \t") for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


_COMMENT_CLOSE = re.compile(r"--\s*>")  # html.parser's own terminators
_SECTION_CLOSE = re.compile(r"]\s*>")
_CDATA_CLOSE = re.compile(r"]\s*]\s*>")
_SECTION_OPEN = re.compile(r"<!\[\s*([a-zA-Z]*)")
_CDATA_KINDS = frozenset({"temp", "cdata", "ignore", "include", "rcdata"})


def _last_end(pattern: re.Pattern[str], text: str) -> int:
    end = -1
    for match in pattern.finditer(text):
        end = match.end()
    return end


def _defuse(html: str) -> str:
    """Escape the markup openers that can never be completed, before html.parser sees them.

    For a construct with no terminator in the rest of the input, html.parser's
    close() searches to the end, treats the opener as text and moves on a few
    characters, then searches to the end again: quadratic (100,000 "<a" took
    16 s, unclosed "<!--" among tags several seconds per 100 kB). A "<" after the
    last ">", a "<!--" after the last "-->" and a "<![" after the last "]>" (or
    "]]>") cannot be completed, so they are made text first: each remaining
    search then stops at a terminator that a later search will not cross again.
    """
    last = html.rfind(">")
    tail = html[last + 1 :]
    if "<" in tail:
        html = html[: last + 1] + tail.replace("<", "&lt;")
    if "<!--" in html:
        cut = max(_last_end(_COMMENT_CLOSE, html), 0)
        html = html[:cut] + html[cut:].replace("<!--", "&lt;!--")
    if "<![" in html:
        section_end, cdata_end = _last_end(_SECTION_CLOSE, html), _last_end(_CDATA_CLOSE, html)

        def escape(match: re.Match[str]) -> str:
            end = cdata_end if match.group(1).lower() in _CDATA_KINDS else section_end
            return "&lt;" + match.group()[1:] if match.start() >= end else match.group()

        html = _SECTION_OPEN.sub(escape, html)
    return html


def _extract(html: str) -> HtmlTexts:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return HtmlTexts(_tidy("".join(extractor.full.chunks)), _tidy("".join(extractor.reply.chunks)),
                     extractor.hidden_text, False)


def html_texts(html: str) -> HtmlTexts:
    """The visible text of an HTML document with and without quoted history, and
    whether hidden text was present; the HTML is read up to MAX_HTML_CHARS."""
    truncated = len(html) > MAX_HTML_CHARS
    html = _defuse(html[:MAX_HTML_CHARS])
    result = _parse(html)
    return HtmlTexts(result.full, result.reply, result.hidden_text, truncated)


def _parse(html: str) -> HtmlTexts:
    try:
        return _extract(html)
    except AssertionError:
        # html.parser rejects some malformed ``<![...`` declarations with an
        # AssertionError; they carry no text, so drop them and try again.
        pass
    try:
        return _extract(_DECLARATION.sub("", html))
    except AssertionError:
        pass
    # Last resort: strip tags. Visibility is unknowable here, so report hidden
    # text as present: the safe answer for the injection check.
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", html, flags=re.IGNORECASE | re.DOTALL)
    text = _tidy(re.sub(r"<[^>]*>", " ", text))
    return HtmlTexts(text, text, True, False)


def html_to_text(html: str, drop_quotes: bool = False) -> HtmlText:
    """The visible text of an HTML document, and whether hidden text was present."""
    result = html_texts(html)
    return HtmlText(result.reply if drop_quotes else result.full, result.hidden_text)

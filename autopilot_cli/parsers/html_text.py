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
_QUOTE_CLASSES = frozenset({"gmail_quote", "gmail_quote_container", "yahoo_quoted", "moz-cite-prefix", "gmail_signature"})
_DECLARATION = re.compile(r"<!(?!--)[^>]*>?")
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})


@dataclass(frozen=True)
class HtmlText:
    text: str
    hidden_text: bool
    """True when the HTML held non-blank text a reader would not see."""


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


class _TextExtractor(HTMLParser):
    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.stack: list[_Open] = []
        self.chunks: list[str] = []
        self.hidden_text = False
        self.pre_depth = 0
        # Line breaks owed before the next text: adjacent blocks share one
        # break instead of stacking up blank lines.
        self.pending = 0

    def _suppressed(self) -> tuple[bool, bool]:
        """(invisible, dropped-as-quote) for text at the current position."""
        skip = any(o.skip for o in self.stack)
        hidden = any(o.hidden for o in self.stack)
        quote = self.drop_quotes and any(o.quote for o in self.stack)
        return skip or hidden, quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr_map = {k.lower(): v for k, v in attrs}
        self._break(tag)
        if tag == "li":
            self._emit("- ")
        elif tag in ("td", "th"):
            self._emit(" ")
        if tag in _VOID_TAGS:
            return
        entry = _Open(tag, tag in _SKIP_TAGS, _is_hidden(attr_map), _is_quote(tag, attr_map))
        self.stack.append(entry)
        if tag == "pre":
            self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        # Mail HTML is rarely well formed: close up to the nearest matching
        # open element and ignore stray end tags.
        for pos in range(len(self.stack) - 1, -1, -1):
            if self.stack[pos].tag == tag:
                for closed in self.stack[pos:]:
                    if closed.tag == "pre":
                        self.pre_depth -= 1
                del self.stack[pos:]
                break
        self._break(tag)

    def handle_data(self, data: str) -> None:
        invisible, quoted = self._suppressed()
        if invisible:
            if data.strip() and not any(o.skip for o in self.stack):
                self.hidden_text = True
            return
        if quoted:
            return
        if self.pre_depth:
            self._emit(data)
        elif data.strip():
            self._emit(re.sub(r"\s+", " ", data))
        elif not self.pending:
            self.chunks.append(" ")

    def _emit(self, text: str) -> None:
        if self.pending and self.chunks:
            self.chunks.append("\n" * self.pending)
        self.pending = 0
        self.chunks.append(text)

    def _break(self, tag: str) -> None:
        if tag == "br":
            self.pending += 1
        elif tag in _PARAGRAPH_TAGS:
            self.pending = max(self.pending, 2)
        elif tag in _BLOCK_TAGS:
            self.pending = max(self.pending, 1)


def _tidy(text: str) -> str:
    text = text.replace("\xa0", " ").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.strip(" \t") for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _extract(html: str, drop_quotes: bool) -> HtmlText:
    extractor = _TextExtractor(drop_quotes)
    extractor.feed(html)
    extractor.close()
    return HtmlText(_tidy("".join(extractor.chunks)), extractor.hidden_text)


def html_to_text(html: str, drop_quotes: bool = False) -> HtmlText:
    """The visible text of an HTML document, and whether hidden text was present."""
    try:
        return _extract(html, drop_quotes)
    except AssertionError:
        # html.parser rejects some malformed ``<![...`` declarations with an
        # AssertionError; they carry no text, so drop them and try again.
        pass
    try:
        return _extract(_DECLARATION.sub("", html), drop_quotes)
    except AssertionError:
        pass
    # Last resort: strip tags. Visibility is unknowable here, so report hidden
    # text as present: the safe answer for the injection check.
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", html, flags=re.IGNORECASE | re.DOTALL)
    return HtmlText(_tidy(re.sub(r"<[^>]*>", " ", text)), True)

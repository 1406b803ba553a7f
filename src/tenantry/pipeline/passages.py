"""Structure-aware passages of a document: the units in which every non-chat write is kept.

A document is read as Markdown (plain text is Markdown too) with markdown-it-py: headings, paragraphs, list items,
table rows, code blocks and quotes. Lines that markdown-it gives no block (link reference definitions) are kept as
paragraphs, so no text is dropped. Units — sentences of a paragraph, list items, table rows, code lines — are packed
into passages of about :data:`TARGET_TOKENS` tokens, never across a heading and preferably at a block boundary. Each
passage is a verbatim slice of the document (its character span is kept) with the path of headings above it.

Plain-text headings (a short line without final punctuation, standing alone or heading a paragraph, as in pages
converted to text) count as headings one level below any Markdown heading. A heading with no text of its own before
the next heading (a page title, a section title followed by a subtitle) stays in the path of what follows it, so
every heading is kept; a title-like line with nothing after it is text, not a heading (a one-line note is a note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .split import split_sentences

__all__ = ["MAX_TOKENS", "MIN_TOKENS", "TARGET_TOKENS", "Passage", "Unit", "count_tokens", "split_passages"]

# Sizes in tokens (words and punctuation marks), measured on doc2dial dev (docs/retrieval.md): at 90 a passage holds
# too little of a page's answer, at 150 ten of them spend too much of a prompt; about 80 words is "a few sentences".
TARGET_TOKENS = 105  # a passage grows until the next unit would take it past this
MIN_TOKENS = 35  # ... unless it is still shorter than this (then up to MAX_TOKENS)
MAX_TOKENS = 170  # a single unit longer than this is cut at word boundaries

UnitKind = Literal["sentence", "item", "row", "code"]
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_END = re.compile(r"\S+\s*")
_BULLET = re.compile(r"^\s*(?:[-*+•·▪‣◦]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")
_IMPLICIT = 7  # the level of a plain-text heading: below every Markdown heading
_TITLE_END = (".", "!", "?", ",", ";")


def count_tokens(text: str) -> int:
    """Words and punctuation marks (``\\w+|[^\\w\\s]``): the measure passages are sized in."""
    return len(_TOKEN.findall(text))


@dataclass(slots=True)
class Unit:
    """The smallest piece a passage is made of, with its character span in the document."""

    start: int
    end: int
    kind: UnitKind
    tokens: int


@dataclass(slots=True)
class Passage:
    """A verbatim slice ``text[start:end]`` of the document, under the headings in ``headings`` (outermost first)."""

    start: int
    end: int
    content: str
    headings: tuple[str, ...]
    units: list[Unit] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(u.tokens for u in self.units)


@dataclass(slots=True)
class _Heading:
    text: str
    level: int


@dataclass(slots=True)
class _Block:
    """A run of units under one heading path (a paragraph, a list, a table, a code block)."""

    headings: tuple[str, ...]
    units: list[Unit]


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


class _Reader:
    """Walks markdown-it's block tokens and turns them into blocks of units under a heading path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = _line_starts(text)
        self.stack: list[_Heading] = []
        self.after_body = False  # whether text came after the last heading
        self.blocks: list[_Block] = []
        self.pending: list[tuple[int, int]] = []  # spans of headings with nothing after them yet

    # -- spans ------------------------------------------------------------------------------------------------------
    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character span of lines ``first`` to ``last - 1``, trailing whitespace left out."""
        start = self.starts[first] if first < len(self.starts) else len(self.text)
        end = self.starts[last] if last < len(self.starts) else len(self.text)
        while end > start and self.text[end - 1].isspace():
            end -= 1
        while start < end and self.text[start].isspace():
            start += 1
        return start, end

    # -- headings ---------------------------------------------------------------------------------------------------
    def heading(self, text: str, level: int, span: tuple[int, int]) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if self.after_body:
            if level == _IMPLICIT:
                if self.stack and self.stack[-1].level == _IMPLICIT:
                    self.stack.pop()
            else:
                while self.stack and self.stack[-1].level >= level:
                    self.stack.pop()
        # After a heading with nothing of its own, the new heading nests under it (its text stays in the path).
        self.stack.append(_Heading(text, level))
        self.after_body = False
        self.pending.append(span)

    def body(self, units: list[Unit]) -> None:
        units = [u for u in units if u.end > u.start]
        if not units:
            return
        self.blocks.append(_Block(tuple(h.text for h in self.stack), units))
        self.after_body = True
        self.pending = []

    # -- units ------------------------------------------------------------------------------------------------------
    def unit(self, start: int, end: int, kind: UnitKind) -> Unit:
        return Unit(start, end, kind, count_tokens(self.text[start:end]))

    def sentences(self, start: int, end: int) -> list[Unit]:
        """The sentences of ``text[start:end]`` (line breaks inside a paragraph are not sentence ends)."""
        flat = self.text[start:end].replace("\n", " ").replace("\r", " ")
        out: list[Unit] = []
        pos = 0
        for piece in split_sentences(flat):
            at = flat.find(piece, pos)
            if at < 0:  # cannot happen: the pieces are slices of ``flat``; keep the rest whole rather than lose it
                break
            out.append(self.unit(start + at, start + at + len(piece), "sentence"))
            pos = at + len(piece)
        if pos < len(flat.rstrip()) and not out:
            out.append(self.unit(start, end, "sentence"))
        return out

    def lines(self, first: int, last: int, kind: UnitKind) -> list[Unit]:
        out: list[Unit] = []
        for i in range(first, last):
            start, end = self.span(i, i + 1)
            if end > start:
                out.append(self.unit(start, end, kind))
        return out

    # -- blocks -----------------------------------------------------------------------------------------------------
    def paragraph(self, first: int, last: int, *, standalone_heading_ok: bool) -> None:
        """A paragraph; its first line is a plain-text heading when it looks like one (see the module docstring)."""
        start, end = self.span(first, last)
        if end <= start:
            return
        lines = self.text[start:end].split("\n")
        head = lines[0].strip()
        if _title_like(head):
            if len(lines) == 1 and standalone_heading_ok:
                self.heading(head, _IMPLICIT, (start, end))
                return
            nxt = lines[1].strip() if len(lines) > 1 else ""
            if nxt and (nxt[:1].isupper() or nxt[:1].isdigit()) and len(head) < 0.6 * len(nxt):
                self.heading(head, _IMPLICIT, (start, start + len(lines[0])))
                start = start + len(lines[0]) + 1
        self.body(self.sentences(start, end))

    def items(self, tokens: list[Token], i: int, close: str) -> int:
        """The items of the list opening at ``tokens[i]``; returns the index after its close."""
        units: list[Unit] = []
        depth = tokens[i].level
        j = i + 1
        while j < len(tokens) and not (tokens[j].type == close and tokens[j].level == depth):
            t = tokens[j]
            if t.type == "list_item_open" and t.level == depth + 1 and t.map:
                start, end = self.span(t.map[0], t.map[1])
                if end > start:
                    item = self.unit(start, end, "item")
                    units.extend(self.sentences(start, end) if item.tokens > MAX_TOKENS else [item])
            j += 1
        self.body(units)
        return j + 1

    def rows(self, tokens: list[Token], i: int) -> int:
        units: list[Unit] = []
        j = i + 1
        while j < len(tokens) and tokens[j].type != "table_close":
            t = tokens[j]
            if t.type == "tr_open" and t.map:
                start, end = self.span(t.map[0], t.map[1])
                if end > start:
                    units.append(self.unit(start, end, "row"))
            j += 1
        self.body(units)
        return j + 1


def _title_like(line: str) -> bool:
    """A short line without final punctuation: a heading in text converted from a page, or a note's only line."""
    words = line.split()
    return 0 < len(words) <= 18 and len(line) <= 150 and not line.endswith(_TITLE_END) and not _BULLET.match(line)


def _close_of(token: Token) -> str:
    return token.type.replace("_open", "_close")


def _read(text: str) -> _Reader:
    reader = _Reader(text)
    tokens = _parser().parse(text)
    covered: list[tuple[int, int]] = [tuple(t.map) for t in tokens if t.level == 0 and t.map]  # type: ignore[misc]
    # Lines no block covers (link reference definitions): read as paragraphs, in order, so nothing is dropped.
    extra = _uncovered(covered, len(reader.starts))
    top = [t for t in tokens if t.level == 0 and t.nesting >= 0]
    order: list[tuple[int, int, Token | None]] = [(t.map[0] if t.map else 0, 0, t) for t in top]
    order += [(a, 1, None) for a, _ in extra]
    ends = dict(extra)
    order.sort(key=lambda x: (x[0], x[1]))
    by_token = {id(t): k for k, t in enumerate(tokens)}
    standalone = _standalone_heading_ok(order)
    for n, (line, _, tok) in enumerate(order):
        if tok is None:
            reader.paragraph(line, ends[line], standalone_heading_ok=standalone[n])
            continue
        k = by_token[id(tok)]
        if tok.type == "heading_open":
            inline = tokens[k + 1] if k + 1 < len(tokens) else None
            assert tok.map is not None
            reader.heading(inline.content if inline else "", int(tok.tag[1:]), reader.span(tok.map[0], tok.map[1]))
        elif tok.type == "paragraph_open" and tok.map:
            reader.paragraph(tok.map[0], tok.map[1], standalone_heading_ok=standalone[n])
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            reader.items(tokens, k, _close_of(tok))
        elif tok.type == "table_open":
            reader.rows(tokens, k)
        elif tok.type in ("fence", "code_block") and tok.map:
            reader.body(reader.lines(tok.map[0], tok.map[1], "code"))
        elif tok.type in ("blockquote_open", "html_block") and tok.map:
            start, end = reader.span(tok.map[0], tok.map[1])
            reader.body(reader.sentences(start, end))
    return reader


def _uncovered(covered: list[tuple[int, int]], n_lines: int) -> list[tuple[int, int]]:
    taken = [False] * (n_lines + 1)
    for a, b in covered:
        for i in range(a, min(b, n_lines)):
            taken[i] = True
    out: list[tuple[int, int]] = []
    i = 0
    while i < n_lines:
        if taken[i]:
            i += 1
            continue
        j = i
        while j < n_lines and not taken[j]:
            j += 1
        out.append((i, j))
        i = j
    return out


def _standalone_heading_ok(order: list[tuple[int, int, Token | None]]) -> list[bool]:
    """Per block: whether a one-line paragraph there may be a heading, i.e. some block with text follows it."""
    out = [False] * len(order)
    seen_text = False
    for n in range(len(order) - 1, -1, -1):
        out[n] = seen_text
        tok = order[n][2]
        if tok is None or tok.type != "heading_open":
            seen_text = True
    return out


def _pack(blocks: list[_Block], text: str, target: int, minimum: int, maximum: int) -> list[Passage]:
    passages: list[Passage] = []
    current: list[Unit] = []
    path: tuple[str, ...] | None = None

    def flush() -> None:
        if current:
            start, end = current[0].start, current[-1].end
            passages.append(Passage(start, end, text[start:end], path or (), list(current)))
            current.clear()

    def size() -> int:
        return sum(u.tokens for u in current)

    for block in blocks:
        if block.headings != path:
            flush()
            path = block.headings
        block_tokens = sum(u.tokens for u in block.units)
        if current and size() >= minimum and size() + block_tokens > target:
            flush()  # prefer to break between blocks
        for unit in block.units:
            for piece in _cut(unit, text, maximum):
                if (
                    current
                    and size() + piece.tokens > target
                    and (size() >= minimum or size() + piece.tokens > maximum)
                ):
                    flush()
                current.append(piece)
    flush()
    return _merge_tails(passages, text, minimum, maximum)


def _cut(unit: Unit, text: str, maximum: int) -> list[Unit]:
    """A unit longer than ``maximum`` tokens, cut at word boundaries into pieces of at most ``maximum``."""
    if unit.tokens <= maximum:
        return [unit]
    out: list[Unit] = []
    start = unit.start
    tokens = 0
    for m in _WORD_END.finditer(text, unit.start, unit.end):
        n = count_tokens(m.group())
        if tokens and tokens + n > maximum:
            out.append(Unit(start, m.start(), unit.kind, tokens))
            start, tokens = m.start(), 0
        tokens += n
    end = unit.end
    if end > start:
        out.append(Unit(start, end, unit.kind, tokens))
    for u in out:  # trailing spaces out of each span
        while u.end > u.start and text[u.end - 1].isspace():
            u.end -= 1
    return out


def _merge_tails(passages: list[Passage], text: str, minimum: int, maximum: int) -> list[Passage]:
    """A short last passage of a section joins the one before it when both fit ``maximum``."""
    out: list[Passage] = []
    for p in passages:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.headings == p.headings
            and (p.tokens < minimum or prev.tokens < minimum)
            and prev.tokens + p.tokens <= maximum
        ):
            out[-1] = Passage(prev.start, p.end, text[prev.start : p.end], prev.headings, prev.units + p.units)
        else:
            out.append(p)
    return out


def split_passages(
    text: str, *, target: int = TARGET_TOKENS, minimum: int = MIN_TOKENS, maximum: int = MAX_TOKENS
) -> list[Passage]:
    """Cut a document into passages (see the module docstring).

    Args:
        text: the document as written (Markdown or plain text).
        target: tokens a passage grows to; ``minimum``: below it a passage takes the next unit anyway;
            ``maximum``: the most tokens of one passage.

    Returns:
        Passages in document order; their spans do not overlap, and together with the headings they cover every
        non-blank character of ``text``. Headings that no text follows make a last passage of their own.
    """
    if not text.strip():
        return []
    reader = _read(text)
    passages = _pack(reader.blocks, text, target, minimum, maximum)
    if reader.pending:  # headings at the very end, with nothing under them: kept as text
        start, end = reader.pending[0][0], reader.pending[-1][1]
        tail = Passage(start, end, text[start:end], (), [Unit(start, end, "sentence", count_tokens(text[start:end]))])
        passages.append(tail)
    return passages

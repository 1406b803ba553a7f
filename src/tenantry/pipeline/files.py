"""Reading uploaded files into the text a document is stored as, headings kept as Markdown headings.

Formats (by file name, else by content): Markdown and plain text (UTF-8, UTF-16 with a byte-order mark), HTML
(BeautifulSoup with Python's own parser), PDF (pypdf; lines set in a larger type than the body become headings),
DOCX (python-docx; "Heading N" and "Title" styles become headings, list paragraphs list items, tables Markdown
tables) and e-mail (``.eml``: the standard library's parser; the subject is the heading, sender, recipients and date
are kept as lines, the body is read as text or HTML, text attachments are appended). The result is Markdown, which
the passage splitter reads structure from (:mod:`.passages`).

A file that cannot be read raises :class:`~tenantry.errors.InvalidInputError` naming the format and the reason
(code ``unreadable_file``; ``unsupported_file_type`` for a format not listed above); nothing is stored then.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import InvalidInputError
from ..errors import PayloadTooLargeError

__all__ = ["FORMATS", "MAX_FILE_BYTES", "ParsedFile", "file_format", "parse_file"]

MAX_FILE_BYTES = 20_000_000
# format -> (document_type it is stored as, what it is called in messages)
FORMATS: dict[str, tuple[str, str]] = {
    "markdown": ("document", "Markdown"),
    "text": ("document", "plain text"),
    "html": ("document", "HTML"),
    "pdf": ("pdf", "PDF"),
    "docx": ("document", "DOCX"),
    "email": ("email", "e-mail (.eml)"),
}
_EXTENSIONS = {
    "md": "markdown",
    "markdown": "markdown",
    "mdown": "markdown",
    "txt": "text",
    "text": "text",
    "log": "text",
    "csv": "text",
    "tsv": "text",
    "json": "text",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "pdf": "pdf",
    "docx": "docx",
    "eml": "email",
}
_BINARY_TYPES = ("doc", "xls", "xlsx", "ppt", "pptx", "png", "jpg", "jpeg", "gif", "mp3", "wav", "mp4", "zip")
_BLOCK_TAGS = frozenset(
    "h1 h2 h3 h4 h5 h6 ul ol table pre blockquote li p div section article main header footer aside nav figure "
    "figcaption address dl dt dd".split()
)
_SKIP = frozenset("script style noscript template head svg iframe object button select form".split())
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The text of a file, the format it was read as, the document type it is stored as, and (e-mail) its date."""

    text: str
    format: str
    document_type: str
    created_at: datetime | None = None


def _unreadable(filename: str, fmt: str, reason: str) -> InvalidInputError:
    name = FORMATS[fmt][1]
    return InvalidInputError(
        f"{filename}: cannot read this {name} file: {reason}",
        code="unreadable_file",
        details={"field": "file", "format": fmt, "filename": filename},
    )


def file_format(filename: str, data: bytes) -> str:
    """The format of a file: by its extension, else by its first bytes (PDF, ZIP-based DOCX, HTML, e-mail, text).

    Raises:
        InvalidInputError: a format that is not read here (``unsupported_file_type``).
    """
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    head = data[:2048].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and b"word/" in data[:65536]:
        return "docx"
    low = head[:512].lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<body" in low:
        return "html"
    if ext in _BINARY_TYPES or b"\x00" in head:
        raise InvalidInputError(
            f"{filename}: files of this type cannot be read; upload Markdown, text, HTML, PDF, DOCX or .eml",
            code="unsupported_file_type",
            details={"field": "file", "filename": filename},
        )
    if re.match(rb"(?:[A-Za-z-]+: [^\r\n]*\r?\n)+", head) and re.search(rb"^(?:From|Subject|To|Date): ", head, re.M):
        return "email"
    return "text"


def parse_file(data: bytes, filename: str) -> ParsedFile:
    """Read an uploaded file (see the module docstring).

    Args:
        data: the file's bytes.
        filename: its name (its extension decides the format; without one the content does).

    Raises:
        InvalidInputError: the file cannot be read as its format, holds no text, or is of another format.
        PayloadTooLargeError: larger than :data:`MAX_FILE_BYTES`.
    """
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLargeError(
            f"{filename} is {len(data)} bytes; files are read up to {MAX_FILE_BYTES} bytes",
            details={"field": "file", "limit": MAX_FILE_BYTES},
        )
    fmt = file_format(filename, data)
    created: datetime | None = None
    if fmt in ("markdown", "text"):
        text = _decode(data, filename, fmt)
    elif fmt == "html":
        text = html_to_markdown(_decode(data, filename, fmt, html=True))
    elif fmt == "pdf":
        text = _pdf(data, filename)
    elif fmt == "docx":
        text = _docx(data, filename)
    else:
        text, created = _email(data, filename)
    text = text.replace("\x00", "").strip()  # a NUL in extracted text is an artefact of the format (PDF, DOCX)
    if not text:
        raise _unreadable(filename, fmt, "no text found in it")
    return ParsedFile(text, fmt, FORMATS[fmt][0], created)


# -- text -----------------------------------------------------------------------------------------------------------
def _decode(data: bytes, filename: str, fmt: str, *, html: bool = False) -> str:
    """UTF-8 (a BOM allowed), UTF-16 with a BOM, or (HTML) the charset the page declares."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _unreadable(filename, fmt, f"invalid UTF-16 ({exc.reason})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        declared = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", data[:4096]) if html else None
        if declared is None:
            raise _unreadable(filename, fmt, f"it is not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
        try:
            text = data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError) as exc2:
            raise _unreadable(filename, fmt, f"it is not {declared.group(1).decode('ascii')} text") from exc2
    if "\x00" in text or _control_share(text) > 0.05:
        raise _unreadable(filename, fmt, "it holds binary data, not text")
    return text


def _control_share(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / max(1, len(sample))


# -- HTML -----------------------------------------------------------------------------------------------------------
def html_to_markdown(html: str) -> str:
    """The text of an HTML page as Markdown: headings, paragraphs, list items, table rows, preformatted text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    out: list[str] = []
    _HtmlWriter(out).walk(soup.body or soup, 0)
    if title and not any(line.startswith("# ") for line in out):
        out.insert(0, f"# {title}")
    return "\n\n".join(out)


def _inline(node: Any) -> str:
    return _SPACES.sub(" ", node.get_text(" ", strip=True)).strip()


class _HtmlWriter:
    """Appends the Markdown blocks of an HTML tree to ``out``; text outside block elements is joined into
    paragraphs."""

    def __init__(self, out: list[str]) -> None:
        self.out = out

    def walk(self, node: Any, depth: int) -> None:
        from bs4.element import NavigableString
        from bs4.element import Tag

        loose: list[str] = []
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ not in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                    loose.append(str(child))
            elif isinstance(child, Tag) and child.name not in _SKIP:
                if child.name == "br":
                    loose.append("\n")
                elif child.name in _BLOCK_TAGS:
                    self.flush(loose)
                    self.block(child, depth)
                else:
                    loose.append(child.get_text(" "))
        self.flush(loose)

    def flush(self, loose: list[str]) -> None:
        text = _SPACES.sub(" ", " ".join(loose)).strip()
        if text:
            self.out.append(text)
        loose.clear()

    def block(self, child: Any, depth: int) -> None:
        name = child.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _inline(child)
            if text:
                self.out.append("#" * int(name[1]) + " " + text)
        elif name in ("ul", "ol"):
            for n, li in enumerate(child.find_all("li", recursive=False), start=1):
                text = _inline(li)
                if text:
                    self.out.append("  " * depth + (f"{n}." if name == "ol" else "-") + " " + text)
        elif name == "table":
            rows = [[_inline(c) for c in tr.find_all(["th", "td"])] for tr in child.find_all("tr")]
            self.out.extend(_table_rows(rows))
        elif name == "pre":
            self.out.append("```\n" + child.get_text().strip("\n") + "\n```")
        else:
            self.walk(child, depth)


def _table_rows(rows: list[list[str]]) -> list[str]:
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        return []
    cells = [[c.replace("|", "/") for c in r] for r in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return ["\n".join(lines)]


# -- PDF ------------------------------------------------------------------------------------------------------------
def _pdf(data: bytes, filename: str) -> str:
    """The text of every page; a line set at least 1.2 times larger than the body type becomes a heading (the
    largest size ``#``, the next ``##`` ...)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise _unreadable(filename, "pdf", "it is encrypted with a password")
            except NotImplementedError as exc:
                raise _unreadable(filename, "pdf", f"its encryption is not supported ({exc})") from exc
        pages = [_pdf_lines(page) for page in reader.pages]
    except InvalidInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        raise _unreadable(filename, "pdf", f"{type(exc).__name__}: {exc}") from exc
    sizes: Counter[float] = Counter()
    for lines in pages:
        for text, size in lines:
            sizes[size] += len(text)
    if not sizes:
        return ""
    body = sizes.most_common(1)[0][0]
    bigger = sorted({s for s in sizes if s >= 1.2 * body}, reverse=True)[:5]
    out: list[str] = []
    for lines in pages:
        paragraph: list[str] = []
        for text, size in lines:
            if size in bigger and len(text.split()) <= 20:
                if paragraph:
                    out.append("\n".join(paragraph))
                    paragraph = []
                out.append("#" * (bigger.index(size) + 1) + " " + text)
            else:
                paragraph.append(text)
        if paragraph:
            out.append("\n".join(paragraph))
    return "\n\n".join(out)


def _pdf_lines(page: Any) -> list[tuple[str, float]]:
    """(line, type size) of one page, in reading order."""
    parts: list[tuple[str, float]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        scale = abs(float(tm[3]) * float(cm[3])) or 1.0 if tm and cm else 1.0
        parts.append((text, round(float(size or 0) * scale, 1)))

    page.extract_text(visitor_text=visit)
    lines: list[tuple[str, float]] = []
    current: list[str] = []
    current_size = 0.0
    for text, size in parts:
        pieces = text.split("\n")
        for n, piece in enumerate(pieces):
            if n > 0:
                line = _SPACES.sub(" ", "".join(current)).strip()
                if line:
                    lines.append((line, current_size))
                current, current_size = [], 0.0
            if piece.strip():
                current.append(piece)
                current_size = max(current_size, size)
    line = _SPACES.sub(" ", "".join(current)).strip()
    if line:
        lines.append((line, current_size))
    return lines


# -- DOCX -----------------------------------------------------------------------------------------------------------
def _docx(data: bytes, filename: str) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        return "\n\n".join(_docx_blocks(document))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise _unreadable(filename, "docx", f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # lxml raises its own XMLSyntaxError for a damaged part
        if type(exc).__module__.startswith("lxml"):
            raise _unreadable(filename, "docx", f"{type(exc).__name__}: {exc}") from exc
        raise


def _docx_blocks(document: Any) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = _SPACES.sub(" ", paragraph.text).strip()
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            level = _heading_level(style)
            if level:
                yield "#" * level + " " + text
            elif style.lower().startswith("list") or child.find(".//{*}numPr") is not None:
                yield ("1. " if "number" in style.lower() else "- ") + text
            else:
                yield text
        elif tag == "tbl":
            table = Table(child, document)
            rows = [[_SPACES.sub(" ", cell.text).strip() for cell in row.cells] for row in table.rows]
            yield from _table_rows(rows)


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    m = re.fullmatch(r"Heading (\d)", style)
    return min(6, int(m.group(1))) if m else 0


# -- e-mail ---------------------------------------------------------------------------------------------------------
def _email(data: bytes, filename: str) -> tuple[str, datetime | None]:
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
    except (ValueError, TypeError, LookupError) as exc:
        raise _unreadable(filename, "email", f"{type(exc).__name__}: {exc}") from exc
    assert isinstance(msg, EmailMessage)
    fields = {name: str(msg.get(name, "") or "").strip() for name in ("Subject", "From", "To", "Cc", "Date")}
    if not any(fields.values()) or msg.defects and not msg.get_payload():
        raise _unreadable(filename, "email", "it has no e-mail headers (From, To, Subject, Date)")
    created: datetime | None = None
    if fields["Date"]:
        try:
            created = parsedate_to_datetime(fields["Date"])
        except (TypeError, ValueError):
            created = None
    lines = [f"# {fields['Subject']}"] if fields["Subject"] else []
    header = [f"{name}: {fields[name]}" for name in ("From", "To", "Cc", "Date") if fields[name]]
    parts = ["\n".join(lines), "\n".join(header)]
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        parts.append(_part_text(body, filename))
    for attachment in msg.iter_attachments():
        name = attachment.get_filename() or "attachment"
        if attachment.get_content_maintype() == "text":
            parts.append(f"## Attachment: {name}\n\n{_part_text(attachment, filename)}")
        else:
            parts.append(f"[attachment: {name}, {attachment.get_content_type()}]")
    return "\n\n".join(p for p in parts if p.strip()), created


def _part_text(part: Any, filename: str) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(filename, "email", f"a part cannot be decoded ({exc})") from exc
    text = content if isinstance(content, str) else bytes(content).decode("utf-8", errors="replace")
    return html_to_markdown(text) if part.get_content_subtype() == "html" else text.strip()

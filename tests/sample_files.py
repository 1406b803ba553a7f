"""Sample files of every upload format, made at test time (nothing binary is committed), and a malformed one of each.

Each good file holds the same small policy: a heading "Refund policy" over the sentence about refunds, so a test can
check that the heading was read and the text kept.
"""

from __future__ import annotations

import io
from email.message import EmailMessage

__all__ = ["GOOD", "MALFORMED", "REFUND", "pdf_bytes"]

REFUND = "Refunds are accepted within 30 days of purchase."
SHIPPING = "Gold customers get free express shipping."


def pdf_bytes(lines: list[tuple[int, str]]) -> bytes:
    """A one-page PDF (Helvetica) with each ``(type size, text)`` on a line of its own, written by hand."""
    y = 740
    ops = []
    for size, text in lines:
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 {size} Tf 72 {y} Td ({safe}) Tj ET")
        y -= size + 14
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Refund policy", level=1)
    document.add_paragraph(REFUND)
    document.add_heading("Shipping", level=2)
    document.add_paragraph(SHIPPING, style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Gold", "20 dollars"
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _eml() -> bytes:
    msg = EmailMessage()
    msg["Subject"] = "Refund policy"
    msg["From"] = "Support <support@acme.example>"
    msg["To"] = "team@acme.example"
    msg["Date"] = "Tue, 02 Jan 2024 10:00:00 +0000"
    msg.set_content(f"Hello team,\n\n{REFUND}\n\n{SHIPPING}\n")
    return msg.as_bytes()


GOOD: dict[str, tuple[str, bytes]] = {
    "markdown": ("policy.md", f"# Refund policy\n\n{REFUND}\n\n## Shipping\n\n- {SHIPPING}\n".encode()),
    "text": ("policy.txt", f"Refund policy\n\n{REFUND} {SHIPPING}\n".encode()),
    "html": (
        "policy.html",
        (
            "<html><head><title>Policies</title><style>p{color:red}</style></head><body>"
            f"<h1>Refund policy</h1><p>{REFUND}</p><h2>Shipping</h2><ul><li>{SHIPPING}</li></ul>"
            "<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Gold</td><td>20 dollars</td></tr></table>"
            "<script>var x = 1;</script></body></html>"
        ).encode(),
    ),
    "pdf": ("policy.pdf", pdf_bytes([(24, "Refund policy"), (11, REFUND), (18, "Shipping"), (11, SHIPPING)])),
    "docx": ("policy.docx", _docx()),
    "email": ("policy.eml", _eml()),
}
MALFORMED: dict[str, tuple[str, bytes]] = {
    "markdown": ("broken.md", b"# Refunds\n\nRefunds \xc3\x28 within \x80\x81 days\n"),
    "text": ("broken.txt", b"\xfa\xfb\xfc not text at all \x80"),
    "html": ("broken.html", b"<html><body>\x00\x01\x02\x03\x04\x05\x06\x07\x00\x00</body></html>"),
    "pdf": ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without pages\n%%EOF"),
    "docx": ("broken.docx", b"PK\x03\x04 this is not a zip archive"),
    "email": ("broken.eml", b"\x00\x01\x02 binary, no headers \xff"),
}

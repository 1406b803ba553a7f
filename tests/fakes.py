"""Real implementations of our plug-in Protocols for tests that are about something else (tenancy, queueing).

``EchoExtractor`` turns every segment into one fact holding the segment's text, so a test knows exactly which
memories a write creates; ``HashingEmbedder`` (shipped in the package) gives lexical-similarity vectors fast.
"""

from __future__ import annotations

from tenantry.pipeline.base import DocumentInput
from tenantry.pipeline.base import MemoryDraft


class EchoExtractor:
    name = "echo"

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        return [
            MemoryDraft("fact", seg.text, confidence=0.9, source_evidence=[seg.id])
            for seg in document.segments
            if seg.text.strip()
        ]


class SlotExtractor:
    """``"key=value"`` segments become facts about slot ``key`` (for reconciliation tests); other text is echoed."""

    name = "slots"

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        out = []
        for seg in document.segments:
            if "=" in seg.text:
                key, value = (p.strip() for p in seg.text.split("=", 1))
                out.append(
                    MemoryDraft(
                        "fact",
                        f"the {key} is {value}",
                        confidence=0.6,
                        source_evidence=[seg.id],
                        subject="user",
                        attribute=key,
                    )
                )
            elif seg.text.strip():
                out.append(MemoryDraft("fact", seg.text, confidence=0.6, source_evidence=[seg.id]))
        return out

"""Real implementations of our plug-in Protocols for tests that are about something else (tenancy, queueing).

``EchoExtractor`` turns every segment into one fact holding the segment's text, so a test knows exactly which
memories a write creates; ``HashingEmbedder`` (shipped in the package) gives lexical-similarity vectors fast.
"""

from __future__ import annotations

from memstrata.pipeline.base import DocumentInput, MemoryDraft


class EchoExtractor:
    name = "echo"

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        return [
            MemoryDraft("fact", seg.text, confidence=0.9, source_evidence=[seg.id])
            for seg in document.segments
            if seg.text.strip()
        ]

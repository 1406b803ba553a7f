"""Retrieval: candidate generation (lexical + vector), fusion, re-weighting, packing."""

"""Ingestion pipeline: splitting, extraction, embedding (plug-ins) and the runner that stores the result."""

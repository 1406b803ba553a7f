"""Evaluation harnesses (``tenantry eval ...``)."""

"""Evaluation harnesses (``memstrata eval ...``)."""

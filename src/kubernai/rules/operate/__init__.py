"""Checks for the operate section (OPS codes)."""

"""Checks for the train section (TRN codes)."""

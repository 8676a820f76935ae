"""Checks for the serve section (SRV codes)."""

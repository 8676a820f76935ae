"""Calculators: pure functions with the arithmetic of the systems they model."""

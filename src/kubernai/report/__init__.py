"""Reporters: a Report rendered as text, JSON, SARIF or GitHub annotations."""

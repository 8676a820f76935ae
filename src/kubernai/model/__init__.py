"""Kubernetes objects as raw mappings read through tolerant accessors."""

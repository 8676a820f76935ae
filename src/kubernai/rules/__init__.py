"""The rules: one module, one class, registered on import."""

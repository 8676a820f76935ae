"""Tool-level findings (``KAI``): input kubernai could not read, rules that crashed."""

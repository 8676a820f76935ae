"""Sources of manifests: files, folders and stdin, with exact source locations."""

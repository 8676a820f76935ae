"""The reference: articles, their rendering, the static site and its RSS feed."""

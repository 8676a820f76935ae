"""Checks for the cluster section: scheduling, placement, quotas, GPU sharing."""

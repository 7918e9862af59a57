"""Kubernetes objects the scheduler reads, and their YAML loader."""

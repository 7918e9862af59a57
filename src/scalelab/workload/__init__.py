"""Workload phases: what happens to the cluster during a run."""

"""Rally tasks as the workload: task files as users have them, Rally's runners, its scenarios."""

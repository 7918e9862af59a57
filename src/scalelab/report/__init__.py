"""Reports people look at: a stored run, or a stored reproduction, as a self-contained HTML page
with matplotlib plots (issue: reports, export and sweeps)."""

"""One module per modelled daemon (DESIGN.md); wired by ``scalelab.cluster``, never by themselves."""

"""The static audit of real deployment files (``scalelab check``): importers, one per format,
into spec values with their provenance, and the catalogue's rules over them."""

"""scalelab: what breaks when a Kubernetes cluster grows, why, and which setting fixes it."""

__version__ = "0.1.0"

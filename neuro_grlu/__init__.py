"""neuro_grlu: learning without backpropagation, side by side on the same data and records."""

__version__ = "0.1.0"

"""kindcast: a podcast and audiogram media pipeline."""

__version__ = "0.1.0"

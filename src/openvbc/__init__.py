"""openvbc: run value-based care programs end to end."""

__version__ = "0.1.0"

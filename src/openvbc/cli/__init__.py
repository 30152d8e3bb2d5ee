"""openvbc.cli layer (see ARCHITECTURE.md)."""

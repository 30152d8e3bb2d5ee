"""openvbc.engine layer (see ARCHITECTURE.md)."""

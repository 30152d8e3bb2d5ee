"""openvbc.services layer (see ARCHITECTURE.md)."""

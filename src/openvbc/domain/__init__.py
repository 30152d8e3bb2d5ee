"""openvbc.domain layer (see ARCHITECTURE.md)."""

"""openvbc.store layer (see ARCHITECTURE.md)."""

"""openvbc.rules layer (see ARCHITECTURE.md)."""

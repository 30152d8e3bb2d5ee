"""openvbc.interop layer (see ARCHITECTURE.md)."""

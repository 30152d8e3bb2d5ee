"""openvbc.synth layer (see ARCHITECTURE.md)."""

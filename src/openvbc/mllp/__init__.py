"""openvbc.mllp: the MLLP listener shell (see ARCHITECTURE.md)."""

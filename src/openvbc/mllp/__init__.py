"""The MLLP listener shell: sockets in, ``openvbc.services.adt`` for storage, ACKs out."""

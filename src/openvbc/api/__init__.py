"""The HTTP service: REST for openvbc's own objects and FHIR R4 where a standard exists.

``create_app`` in ``app.py`` builds the FastAPI application (pages from ``openvbc.web``
included); ``openvbc serve`` runs it under uvicorn.
"""

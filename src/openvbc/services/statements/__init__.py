"""Payment statements: JSON and CSV for machines, HTML (Jinja2) and PDF (WeasyPrint) for people."""

from openvbc.services.statements.render import render_html, statement_payload, write_statements

__all__ = ["render_html", "statement_payload", "write_statements"]

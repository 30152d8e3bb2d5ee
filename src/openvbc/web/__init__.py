"""Server-rendered pages (Jinja2 + htmx), readable without JavaScript; charts are Vega-Lite.

The pages call the same services as the API; nothing here is loaded from a CDN (the browser
libraries are vendored under ``static/vendor``, see VENDORED.md there).
"""

from pathlib import Path

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

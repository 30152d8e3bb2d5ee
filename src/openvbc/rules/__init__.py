"""Rules as versioned data: value sets, measure files, drug classes, calendars, billing tables.

Engines read rule files through :mod:`openvbc.rules.loader` (cached, typed); :mod:`openvbc.rules.schema`
is the one place that knows every kind and validates it (``openvbc rules check``). See docs/rules.md.
"""

"""ASC X12 005010: the 837P professional claim builder, a small reader and pyx12 validation."""

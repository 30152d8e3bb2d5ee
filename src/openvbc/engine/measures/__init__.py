"""Quality measures as Ibis expressions, one module per measure."""

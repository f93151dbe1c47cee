"""Pure rendering: data in, PNG bytes out."""

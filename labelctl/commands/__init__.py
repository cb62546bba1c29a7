"""One module per command group of labelctl (main.py puts them together)."""

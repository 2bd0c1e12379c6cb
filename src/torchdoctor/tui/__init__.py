"""The terminal UI (Textual). Only this package imports Textual; the core never does."""

"""Renderers: the only code that knows how a Report looks (text, JSON, Markdown)."""

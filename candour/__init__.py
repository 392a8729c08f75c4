"""Candour's composition root: settings, the application builder and the `candour` CLI."""

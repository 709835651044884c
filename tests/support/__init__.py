"""Shared test code: fakes, tiny models, app launching, hardening helpers."""

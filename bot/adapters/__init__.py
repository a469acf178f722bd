"""Adapters: console, scheduler and chat platforms, translating to and from the core."""

"""Fake platform servers for tests: real client libraries talk to them on 127.0.0.1."""

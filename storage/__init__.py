"""Persistence: SQLAlchemy 2 models, engine, migrations and the repository the core talks to."""

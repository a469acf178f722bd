"""Persistence: the schema, engines, migrations, the unit of work and its repositories."""

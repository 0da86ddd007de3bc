"""EventLog persistence: SQLAlchemy models, engine factory and Alembic migrations."""

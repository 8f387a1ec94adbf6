"""Database access below every package that stores rows: the engine (SQLite WAL or PostgreSQL)
and the schema's one MetaData. The measure package and the server both build on it; it imports
neither, so an analysis command that reads measurements never loads the server or FastAPI."""

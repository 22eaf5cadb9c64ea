"""The SQLite backend: every store on the checkpointer's own connection and lock."""

"""The PostgreSQL backend: every store on the saver's connection pool."""

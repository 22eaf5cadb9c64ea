"""The domain layer: loading, running, reloading and sessions. Knows no front end."""

"""A small module for agents to read, review and extend."""


def slugify(title: str) -> str:
    """Lowercase words joined by dashes."""
    return "-".join(title.lower().split())


def word_count(text: str) -> int:
    """How many words ``text`` has."""
    return len(text.split())

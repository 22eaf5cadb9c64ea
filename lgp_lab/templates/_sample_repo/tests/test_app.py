from app import slugify, word_count


def test_slugify() -> None:
    assert slugify("Hello World") == "hello-world"


def test_word_count() -> None:
    assert word_count("one two three") == 3

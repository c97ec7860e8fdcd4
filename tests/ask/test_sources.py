"""The sources of an answer: the links it cites, read from hostile answers too."""

import time

import pytest

from kimi_mcp.ask.sources import Source, cited_sources


def test_links_with_parentheses_are_cited_whole() -> None:
    """Wikipedia's disambiguated pages end in `_(...)`: cut at the `(`, the link is broken."""
    answer = (
        "See [Mercury](https://en.wikipedia.org/wiki/Mercury_(planet)) and "
        "https://en.wikipedia.org/wiki/Io_(moon). (More at https://example.org/a.)"
    )
    assert cited_sources(answer) == [
        Source("https://en.wikipedia.org/wiki/Mercury_(planet)", "Mercury"),
        Source("https://en.wikipedia.org/wiki/Io_(moon)", None),
        Source("https://example.org/a", None),
    ]


def test_script_and_data_links_are_never_sources() -> None:
    answer = "[a](javascript:alert(1)) [b](data:text/html,hi) <https://example.org/ok>"
    assert cited_sources(answer) == [Source("https://example.org/ok", None)]


@pytest.mark.slow
def test_an_answer_of_brackets_is_read_in_linear_time() -> None:
    """A stream may carry 16 MiB of answer; read a few characters at a time each, it took about
    a minute of the event loop (every client waited), now a fraction of a second."""
    started = time.monotonic()
    for hostile in ("[" * 8_000_000, "[a](" * 2_000_000, "http://(" * 1_000_000):
        assert cited_sources(hostile) == []
    assert time.monotonic() - started < 10  # before: ~28 s for the first alone; now ~0.3 s

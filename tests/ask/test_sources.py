"""The links an answer cites: Markdown links and bare URLs, each once, in order, read from hostile
answers too (the time a hostile answer takes is in tests/benchmarks/bench_sources.py)."""

from kimi_mcp.ask.sources import MAX_SOURCES, Source, cited_sources


def test_markdown_links_and_bare_urls_each_once_in_order() -> None:
    answer = (
        "Kimi K2 is open ([Moonshot blog](https://moonshot.ai/k2)); see https://github.com/k2. "
        "Also [again](https://moonshot.ai/k2) and https://github.com/k2, twice."
    )
    assert cited_sources(answer) == [
        Source("https://moonshot.ai/k2", "Moonshot blog"),
        Source("https://github.com/k2", None),
    ]


def test_a_later_title_names_a_url_first_cited_bare() -> None:
    answer = "See https://a.example/x. More in [the A page](https://a.example/x)."
    assert cited_sources(answer) == [Source("https://a.example/x", "the A page")]


def test_sentence_punctuation_is_not_part_of_a_url() -> None:
    answer = "Read https://a.example/p, then https://b.example/q. Or https://c.example/r!"
    urls = [s.url for s in cited_sources(answer)]
    assert urls == ["https://a.example/p", "https://b.example/q", "https://c.example/r"]


def test_no_link_no_source_and_the_count_is_bounded() -> None:
    assert cited_sources("No links here, only http:// alone.") == []
    many = " ".join(f"https://e.example/{i}" for i in range(MAX_SOURCES + 10))
    assert len(cited_sources(many)) == MAX_SOURCES


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

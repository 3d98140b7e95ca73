"""The profile's canonical query: how a client and the gateway agree on `@query`."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_ai_protocol.signing.canonical_query import canonical_query, is_canonical_query, parse_query

# Any Unicode text that can be UTF-8 encoded (lone surrogates cannot).
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=8)


def test_pairs_are_sorted_by_encoded_name_then_encoded_value() -> None:
    pairs = [("b", "2"), ("a", "x y"), ("a", "1"), ("é", "~*")]

    assert canonical_query(pairs) == "%C3%A9=~%2A&a=1&a=x%20y&b=2"


def test_unreserved_characters_stay_literal_and_everything_else_is_upper_case_hex() -> None:
    assert canonical_query([("k", "AZaz09-._~ +/?&=%")]) == "k=AZaz09-._~%20%2B%2F%3F%26%3D%25"


def test_no_pairs_give_an_empty_query() -> None:
    assert canonical_query([]) == ""


def test_a_parameter_without_value_is_written_with_an_equals_sign() -> None:
    assert canonical_query(parse_query("flag")) == "flag="


def test_parsing_decodes_plus_as_space_and_percent_escapes_as_utf_8() -> None:
    assert parse_query("q=a+b%2B&n=%C3%A9&&e=") == [("q", "a b+"), ("n", "é"), ("e", "")]


@pytest.mark.parametrize("query", ["a=%", "a=%4", "a=%zz", "a=%C3", "%FF=1"])
def test_parsing_refuses_malformed_escapes_and_invalid_utf_8(query: str) -> None:
    with pytest.raises(ValueError, match=r"percent|utf-8"):
        parse_query(query)


@pytest.mark.parametrize("query", ["", "a=1", "a=1&a=2&b=%20", "%2B=%7E"])
def test_canonical_queries_are_recognised(query: str) -> None:
    # "%7E" is not canonical ("~" is unreserved), so the last case must be the encoded name only.
    assert is_canonical_query(query) == (query != "%2B=%7E")


@pytest.mark.parametrize("query", ["b=1&a=1", "a=x+y", "a", "a=1&&b=2", "a=%2b", "a=%", "a=é"])
def test_non_canonical_queries_are_recognised(query: str) -> None:
    assert not is_canonical_query(query)


@settings(deadline=None, max_examples=300)
@given(pairs=PAIRS)
def test_canonical_query_round_trips_through_parsing(pairs: list[tuple[str, str]]) -> None:
    # Given any parameters, canonicalised
    query = canonical_query(pairs)

    # When the gateway decodes them again (as API Gateway does) and re-canonicalises
    decoded = parse_query(query)

    # Then nothing is lost, nothing is added, and the canonical form is stable
    assert Counter(decoded) == Counter(pairs)
    assert canonical_query(decoded) == query
    assert is_canonical_query(query)


@settings(deadline=None, max_examples=300)
@given(data=st.data(), pairs=PAIRS)
def test_the_order_of_parameters_does_not_change_the_canonical_query(
    data: st.DataObject, pairs: list[tuple[str, str]]
) -> None:
    shuffled = data.draw(st.permutations(pairs))

    assert canonical_query(shuffled) == canonical_query(pairs)

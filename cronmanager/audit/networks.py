"""The network an address belongs to for "seen before" questions: IPv4 /24, IPv6 /64 (SPEC §11)."""

from __future__ import annotations

import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 64


def network_of(ip: str | None) -> str | None:
    """`10.1.2.0/24` for `10.1.2.77`; an IPv4-mapped IPv6 address counts as its IPv4 one; junk gives None."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))

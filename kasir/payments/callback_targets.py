"""Where a callback may be sent: public addresses only, unless the shop allows more.

A callback_url is chosen by whoever holds an API key, and Kasir posts to it from inside the shop's
network: left open, it reaches the PC itself (Kasir's own pages, other local services), the LAN and the
cloud metadata address, and the delivery results would map them. So a target is refused when it is
loopback, private, link-local, multicast, unspecified, reserved or otherwise not globally routable
(IPv4-mapped and NAT64 IPv6 forms are judged by the IPv4 address inside), unless it is listed in
CALLBACK_ALLOWED_NETWORKS: comma-separated host names (matched exactly, case-insensitively) or
addresses/CIDRs, e.g. `192.168.1.20, 10.0.0.0/24, kasir-app.lan`.

Checked twice: when the API accepts the URL (an address written in the URL, or a `localhost` name),
and when a callback is sent (every address the name resolves to, and the connection goes to one of
those checked addresses, so a DNS answer cannot change between the check and the connection).
"""
import functools
import ipaddress
import socket
from dataclasses import dataclass

NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAMES = ("localhost", "localhost.localdomain")
REFUSED_MESSAGE = ("must not point to a loopback, private, link-local or other internal address "
                   "(CALLBACK_ALLOWED_NETWORKS can allow one)")


class TargetRefused(ValueError):
    """The callback's host is, or resolves to, an address callbacks may not reach."""


@dataclass(frozen=True)
class Allowed:
    hosts: frozenset[str]
    networks: tuple


@functools.lru_cache(maxsize=8)
def allowed(setting: str) -> Allowed:
    """CALLBACK_ALLOWED_NETWORKS parsed: what is not an address or CIDR is a host name."""
    hosts, networks = set(), []
    for entry in (part.strip() for part in (setting or "").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return Allowed(frozenset(hosts), tuple(networks))


def _judged(address):
    """The address whose kind decides: the IPv4 one inside an IPv4-mapped or NAT64 IPv6 address."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.ip_address(int(address) & 0xFFFFFFFF)
    return address


def internal(address) -> bool:
    """True for an address that is not a public, unicast one."""
    address = _judged(address)
    return address.is_multicast or not address.is_global


def _check_address(text: str, rules: Allowed) -> None:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if internal(address) and not any(address in network or _judged(address) in network
                                     for network in rules.networks):
        raise TargetRefused(REFUSED_MESSAGE)


def _host_allowed(hostname: str, rules: Allowed) -> bool:
    return hostname.lower().rstrip(".") in rules.hosts


def _numeric(hostname: str) -> str | None:
    """The address a numeric host stands for (`127.1` and `2130706433` included, as the OS reads them)."""
    try:
        return socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)[0][4][0]
    except (socket.gaierror, UnicodeError, ValueError):
        return None


def check_url_host(hostname: str, setting: str) -> None:
    """At validation time, without DNS: refuse an internal address written in the URL, or a localhost name."""
    rules = allowed(setting)
    if _host_allowed(hostname, rules):
        return
    address = _numeric(hostname)
    if address is not None:
        _check_address(address, rules)
    elif hostname.lower().rstrip(".") in LOCAL_NAMES or hostname.lower().rstrip(".").endswith(".localhost"):
        raise TargetRefused(REFUSED_MESSAGE)


def resolve(hostname: str, port: int, setting: str) -> list[tuple]:
    """At send time: every (family, sockaddr) the host resolves to, each one checked; TargetRefused if any
    is internal and not allowed (a name that points inside, even among public addresses, is refused).
    Raises OSError when the name does not resolve."""
    rules = allowed(setting)
    found = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    if not _host_allowed(hostname, rules):
        for _family, _type, _proto, _name, sockaddr in found:
            _check_address(sockaddr[0], rules)
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in found]

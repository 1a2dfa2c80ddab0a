"""The test servers' ports: distinct within a request and across requests."""

from __future__ import annotations

from tests.ports import free_port, free_ports


def test_ports_of_one_request_are_distinct() -> None:
    ports = free_ports(300)
    assert len(set(ports)) == 300


def test_a_port_is_never_handed_out_twice() -> None:
    first = set(free_ports(100))
    later = {free_port() for _ in range(300)}
    assert len(later) == 300
    assert not first & later

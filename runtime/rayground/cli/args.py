"""What the user types: argument types that explain a wrong value, and the error for a mistake."""

from __future__ import annotations

import argparse
import ipaddress
import json

DEFAULT_PORT = 6380  # next to Ray's 6379, so both can run on one machine
ADDRESS_HELP = (
    "cluster address: 'auto' (the cluster started on this machine, the default), 'host:port' "
    "(token from RAYGROUND_TOKEN), or RAYGROUND_ADDRESS"
)


class UsageError(Exception):
    """Something the user typed is wrong; the message says what and what to do."""


def parse_size(text: str) -> int:
    """'2000000', '500MB', '2GiB', '1.5G' -> bytes."""
    units = {
        "": 1,
        "B": 1,
        "K": 1000,
        "KB": 1000,
        "KIB": 1024,
        "M": 1000**2,
        "MB": 1000**2,
        "MIB": 1024**2,
        "G": 1000**3,
        "GB": 1000**3,
        "GIB": 1024**3,
    }
    raw = text.strip().upper()
    number = raw.rstrip("KMGIB")
    unit = raw[len(number) :]
    try:
        if unit not in units:
            raise ValueError
        return int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; give bytes (2000000000) or a size such as 2GB or 512MiB"
        ) from None


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = any free)")
    return int(text)


def resources_json(text: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not JSON ({exc.msg}); give e.g. '{{\"widget\": 2}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be a JSON object such as '{{\"widget\": 2}}'"
        )
    return value


def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(
            f"--node-ip-address {text!r} is not an IP address; give one of this machine's "
            "addresses, e.g. 127.0.0.1 (the default) or the address other machines reach it by"
        ) from None

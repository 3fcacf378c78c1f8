"""Outbound HTTP for webhooks: what a callback URL may be, the signature, and the call itself.

A callback URL is checked when it is saved (scheme, and the addresses its host resolves to) and
again at every delivery, because DNS may have changed since: the call then goes to the very
address that was checked (the host name still travels in `Host` and in TLS's SNI), so a second
resolution cannot swap in a private one. Private, loopback, link-local, multicast and reserved
addresses are refused unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on (the tests' receivers listen
on 127.0.0.1). Redirects are never followed: a 3xx is an answer like any other non-2xx.
"""

import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from webhooks.exceptions import UnresolvableHost, UnsafeCallbackUrl

SIGNATURE_HEADER = "X-CommerceLayer-Signature"
TOPIC_HEADER = "X-CommerceLayer-Topic"
EVENT_ID_HEADER = "X-CommerceLayer-Event-Id"
DELIVERY_ID_HEADER = "X-CommerceLayer-Delivery-Id"


def signature_of(body: bytes, *, secret: str) -> str:
    """Commerce Layer's: Base64(HMAC-SHA256(shared secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def check_scheme(url: str, *, mode: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeCallbackUrl(f"{url[:200]} is not an http(s) URL with a host")
    if parts.scheme == "http" and mode == "live" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise UnsafeCallbackUrl(
            "a live webhook's callback_url must be https (http is allowed in test mode)"
        )


def check_resolvable_addresses(url: str) -> None:
    """When saving: refused if the host resolves to a refused address now. A host that does not
    resolve (yet) is accepted: every delivery resolves and checks it again."""
    try:
        resolve_checked(url)
    except UnresolvableHost:
        return


def resolve_checked(url: str) -> str:
    """The address to call for `url`, once every address its host resolves to is allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host} does not resolve: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnresolvableHost(f"{host} does not resolve")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise UnsafeCallbackUrl(
                    f"{host} resolves to {address}, a private, loopback or link-local address: "
                    "webhooks call public addresses only"
                )
    return addresses[0]


@dataclass(frozen=True)
class Answer:
    code: str  # "" when there was no HTTP answer
    message: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.code.startswith("2")


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` (checked again now), with the configured timeout, no redirects."""
    started = time.monotonic()
    try:
        address = resolve_checked(url)
    except UnsafeCallbackUrl as exc:
        return Answer("", str(exc)[:255], 0)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout = urllib3.Timeout(total=settings.WEBHOOKS_TIMEOUT)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            server_hostname=host,
            assert_hostname=host,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if parts.port is None else f"{host}:{port}"
    try:
        with pool:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers={**headers, "Host": host_header},
                redirect=False,
                preload_content=False,
            )
            response.drain_conn()
            code, message = str(response.status), response.reason or ""
    except urllib3.exceptions.HTTPError as exc:
        code, message = "", _failure(exc)
    return Answer(code, message[:255], int((time.monotonic() - started) * 1000))


def _failure(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {settings.WEBHOOKS_TIMEOUT:g} s"
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"

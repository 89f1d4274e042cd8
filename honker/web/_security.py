"""The dashboard's gatekeeping: Host check, token login, CSRF, read-only.

Semantics (docs/dashboard.md, "Security"):
- **Host**: a request whose ``Host`` header names a host outside
  ``allowed_hosts`` gets 400, so a DNS-rebinding page cannot reach a
  dashboard on loopback. The default allows the loopback names only;
  ``"*"`` allows any (the CLI uses it for a wildcard bind, which needs a
  token or read-only mode).
- **Token**: with a token set, every request but the login page and the
  static files needs ``Authorization: Bearer <token>`` or the login cookie;
  otherwise 401. The cookie holds an HMAC of the token, not the token; it is
  HttpOnly and SameSite=Strict.
- **CSRF**: every POST carries a form field ``csrf`` equal to an HMAC, under
  this app's random secret, of the browser's ``honker_csrf`` cookie; a POST
  whose ``Origin`` names another host is refused too. Both give 403.
- **Read-only**: the pages show no actions and every action POST gets 403.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable

AUTH_COOKIE = "honker_auth"
CSRF_COOKIE = "honker_csrf"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a ``Host`` header (port and IPv6 brackets removed)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header[1:]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def _digest(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


class Guard:
    """The checks for one dashboard app (see the module docstring)."""

    def __init__(
        self, token: str | None, read_only: bool, allowed_hosts: Iterable[str] | None
    ) -> None:
        if token is not None and not token.strip():
            raise ValueError("token must be a non-empty string (or None for no login)")
        self.token = token
        self.read_only = read_only
        hosts = LOOPBACK_NAMES if allowed_hosts is None else tuple(allowed_hosts)
        self.any_host = "*" in hosts
        self.hosts = {host_name(h) for h in hosts if h != "*"}
        self._secret = secrets.token_bytes(32)
        self._session = None if token is None else _digest(token.encode(), "honker-dashboard")

    def host_ok(self, header: str | None) -> bool:
        if self.any_host:
            return True
        if not header:
            return False
        return host_name(header) in self.hosts

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """A POST's ``Origin`` (when the browser sends one) names this server."""
        if origin is None:
            return True
        _, _, rest = origin.partition("://")
        return bool(host_header) and rest.lower() == (host_header or "").lower()

    def authenticated(self, authorization: str | None, cookie: str | None) -> bool:
        if self.token is None or self._session is None:
            return True
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                value.strip().encode(), self.token.encode()
            ):
                return True
        return cookie is not None and hmac.compare_digest(cookie, self._session)

    def login(self, token: str) -> str | None:
        """The login cookie's value for a correct ``token``, else None."""
        if self.token is None or self._session is None:
            return None
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return self._session
        return None

    @staticmethod
    def new_csrf_cookie() -> str:
        return secrets.token_hex(16)

    def csrf_token(self, cookie: str) -> str:
        return _digest(self._secret, cookie)

    def csrf_ok(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        return hmac.compare_digest(self.csrf_token(cookie), field)

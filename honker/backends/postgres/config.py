"""What ``honker.open("postgresql://...")`` is given: the URL, honker's own
query options, and the redacted form shown in ``Database.path``, reprs and errors.

honker's options ride in the URL's query string and are removed before the
URL goes to libpq; every other parameter (``sslmode``, ``connect_timeout``,
``options``, ``application_name``, ...) is libpq's:

- ``schema``: where honker's tables live (default ``honker``), created on first
  open; lower-case letters, digits and ``_``, at most 48 characters (the
  LISTEN channel ``honker_changes_<schema>`` must fit PostgreSQL's 63);
- ``pool_size``: the most connections this Database holds (default:
  ``max_readers``, 8), not counting its one LISTEN connection.

The password (in the authority or as ``?password=``) never appears in
``Database.path``, a repr, a log record or an exception message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ..._errors import ConfigError

DEFAULT_SCHEMA = "honker"
CHANNEL_PREFIX = "honker_changes_"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
HONKER_OPTIONS = ("schema", "pool_size")


@dataclass(frozen=True)
class PgConfig:
    conninfo: str = field(repr=False)  # what libpq gets: holds the password
    display: str  # the URL without its password
    schema: str
    pool_size: int
    secrets: tuple[str, ...] = field(repr=False, default=())

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this schema's "something committed" ticks."""
        return CHANNEL_PREFIX + self.schema

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the URL replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def parse(url: str, max_readers: int) -> PgConfig:
    """Split ``url`` into libpq's URL and honker's options (see the module docstring)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in HONKER_OPTIONS}
    theirs = [(k, v) for k, v in query if k not in HONKER_OPTIONS]
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.match(schema):
        raise ConfigError(
            f"schema must be lower-case letters, digits and _ (starting with a letter or _), "
            f"at most 48 characters; got {schema!r}"
        )
    pool_size = max(1, max_readers)
    if "pool_size" in ours:
        try:
            pool_size = int(ours["pool_size"])
        except ValueError:
            pool_size = 0
        if pool_size < 1:
            raise ConfigError(f"pool_size must be a positive integer; got {ours['pool_size']!r}")
    secrets = []
    if parts.password:
        secrets += [parts.password, unquote(parts.password)]
    secrets += [v for k, v in theirs if k == "password" and v]
    libpq_url = urlunsplit(parts._replace(query=urlencode(theirs)))
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    shown = [(k, "***" if k == "password" else v) for k, v in query]
    display = urlunsplit(parts._replace(netloc=netloc, query=urlencode(shown)))
    return PgConfig(libpq_url, display, schema, pool_size, tuple(s for s in secrets if s))

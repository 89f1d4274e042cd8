"""The dashboard's pure parts: the filter box, time text, chart geometry, and
the security checks (Host names, tokens, CSRF)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="the [web] extra is part of the dev install")

from honker import ParameterError
from honker.web import _data
from honker.web._security import Guard, host_name, is_loopback
from honker.web._serve import UnsafeBind, check_bind, hosts_for


def test_filter_box_terms() -> None:
    assert _data.parse_where("") is None
    assert _data.parse_where(" $.user_id=42 ") == {"$.user_id": 42}
    assert _data.parse_where('$.a=1 AND $.plan="pro"') == {"$.a": 1, "$.plan": "pro"}
    assert _data.parse_where('$.s="x AND y" and $.b=true') == {"$.s": "x AND y", "$.b": True}
    assert _data.parse_where("$.name=alice") == {"$.name": "alice"}
    with pytest.raises(ParameterError):
        _data.parse_where("user_id=1")


def test_time_text() -> None:
    assert _data.duration(0) == "0 s"
    assert _data.duration(59) == "59 s"
    assert _data.duration(61) == "1 min 1 s"
    assert _data.duration(7200) == "2 h"
    assert _data.duration(90061) == "1 d 1 h"
    assert _data.relative(100, 100) == "now"
    assert _data.relative(90, 100) == "10 s ago"
    assert _data.relative(160, 100) == "in 1 min"
    assert _data.absolute(0) == "1970-01-01 00:00:00 UTC"
    assert _data.absolute(2**62).startswith("unix ")  # out of datetime's range: no crash


def test_chart_geometry_stacks_and_scales() -> None:
    minutes = [
        {"minute": 0, "completed": 0, "failed": 0, "retried": 0},
        {"minute": 60, "completed": 10, "failed": 1, "retried": 9},
    ]
    c = _data.chart(minutes)
    assert c["peak"] == 20 and c["width"] == 2 * _data.BAR_WIDTH
    assert c["bars"][0]["parts"] == []
    parts = c["bars"][1]["parts"]
    assert [p["series"] for p in parts] == ["completed", "retried", "failed"]
    assert sum(p["h"] for p in parts) == pytest.approx(_data.CHART_HEIGHT)
    assert parts[-1]["y"] == pytest.approx(0)


def test_host_names_and_loopback() -> None:
    assert host_name("LOCALHOST:8787") == "localhost"
    assert host_name("[::1]:8787") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
    guard = Guard(None, False, None)
    assert guard.host_ok("127.0.0.1:1") and guard.host_ok("[::1]:1")
    assert not guard.host_ok("evil.example") and not guard.host_ok(None)
    assert Guard(None, False, ["*"]).host_ok("anything")


def test_tokens_and_csrf() -> None:
    guard = Guard("t0k", False, None)
    assert not guard.authenticated(None, None)
    assert guard.authenticated("Bearer t0k", None)
    assert not guard.authenticated("Bearer t0", None) and not guard.authenticated("Basic t0k", None)
    cookie = guard.login("t0k")
    assert cookie and "t0k" not in cookie and guard.authenticated(None, cookie)
    assert guard.login("nope") is None
    csrf_cookie = guard.new_csrf_cookie()
    assert guard.csrf_ok(csrf_cookie, guard.csrf_token(csrf_cookie))
    assert not guard.csrf_ok(csrf_cookie, guard.csrf_token("other"))
    assert not guard.csrf_ok(None, "x") and not guard.csrf_ok(csrf_cookie, None)
    # another app (another secret) does not accept this one's token
    assert not Guard("t0k", False, None).csrf_ok(csrf_cookie, guard.csrf_token(csrf_cookie))
    assert guard.origin_ok(None, "h:1") and guard.origin_ok("http://h:1", "h:1")
    assert not guard.origin_ok("http://evil:1", "h:1") and not guard.origin_ok("null", "h:1")
    with pytest.raises(ValueError):
        Guard("  ", False, None)


def test_bind_rules() -> None:
    check_bind("127.0.0.1", None, False)
    check_bind("0.0.0.0", "t", False)
    check_bind("10.0.0.5", None, True)
    with pytest.raises(UnsafeBind):
        check_bind("0.0.0.0", None, False)
    assert hosts_for("127.0.0.1", None) is None
    assert hosts_for("0.0.0.0", None) == ["*"]
    assert hosts_for("10.0.0.5", None)[0] == "10.0.0.5"
    assert "ops.example.com" in hosts_for("0.0.0.0", ["ops.example.com"])

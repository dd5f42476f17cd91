"""The sandbox server against a plain aiohttp client: the reference contract and every knob."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from testio_async.sandbox import (
    API_PREFIX,
    SandboxConfig,
    SandboxServer,
    create_app,
    sandbox_of,
    serve,
)
from testio_async.sandbox.pytest_plugin import SandboxFactory

PATH = "/user_story_version_executions"
Params = Sequence[tuple[str, str | int]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fresh_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A session without keep-alive, so aiohttp never silently retries on a reused connection."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as client:
        yield client


def auth(sandbox: SandboxServer) -> dict[str, str]:
    return {"Authorization": f"Token {sandbox.token}"}


async def get(
    session: aiohttp.ClientSession,
    sandbox: SandboxServer,
    params: Params = (),
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """GET the endpoint; return status, decoded JSON body (or raw bytes), response."""
    async with session.get(
        sandbox.url + PATH,
        params=list(params),
        headers=auth(sandbox) if headers is None else headers,
    ) as response:
        raw = await response.read()
    body: Any = orjson.loads(raw) if response.content_type == "application/json" else raw
    return response.status, body, response


def ids(body: dict[str, Any]) -> list[int]:
    return [row["id"] for row in body["user_story_version_executions"]]


# -- the reference contract ----------------------------------------------------


async def test_url_includes_prefix(testio_sandbox: SandboxServer) -> None:
    assert testio_sandbox.url == f"http://127.0.0.1:{testio_sandbox.port}{API_PREFIX}"
    assert testio_sandbox.url.endswith("/customer/v2")
    assert testio_sandbox.token == "sandbox-token"
    assert testio_sandbox.running


async def test_default_page(testio_sandbox: SandboxServer, session: aiohttp.ClientSession) -> None:
    status, body, response = await get(session, testio_sandbox)
    assert status == 200
    assert response.content_type == "application/json"
    assert list(body) == ["meta", "user_story_version_executions"]
    assert body["meta"] == {"record_count": 1000}
    assert ids(body) == list(range(1, 26))
    assert body["user_story_version_executions"] == testio_sandbox.expected()[:25]
    assert body["user_story_version_executions"][3] == testio_sandbox.record(4)


async def test_pages_walk_covers_expected_exactly(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(records=95)
    rows: list[dict[str, Any]] = []
    for page in range(1, 6):
        status, body, _ = await get(session, sandbox, [("page", page), ("per_page", 20)])
        assert status == 200
        assert body["meta"]["record_count"] == 95
        rows.extend(body["user_story_version_executions"])
    assert [len(rows[i : i + 20]) for i in range(0, 95, 20)] == [20, 20, 20, 20, 15]
    assert rows == sandbox.expected()


async def test_page_past_end_is_empty(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(session, testio_sandbox, [("page", 41)])
    assert status == 200
    assert body == {"meta": {"record_count": 1000}, "user_story_version_executions": []}


@pytest.mark.parametrize(("order", "first"), [("asc", 1), ("desc", 1000)])
async def test_order(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession, order: str, first: int
) -> None:
    _, body, _ = await get(session, testio_sandbox, [("order", order), ("per_page", 10)])
    step = 1 if order == "asc" else -1
    assert ids(body) == list(range(first, first + 10 * step, step))
    _, page2, _ = await get(
        session, testio_sandbox, [("order", order), ("per_page", 10), ("page", 2)]
    )
    assert ids(page2)[0] == first + 10 * step


async def test_filter_by_user_story_ids_repeated_keys(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    stories = [testio_sandbox.user_story_id_of(3), testio_sandbox.user_story_id_of(10)]
    params: list[tuple[str, str | int]] = [("user_story_ids[]", s) for s in stories]
    _, body, _ = await get(session, testio_sandbox, [*params, ("per_page", 1000)])
    expected = testio_sandbox.expected(user_story_ids=stories)
    assert body["meta"]["record_count"] == len(expected) == 40
    assert body["user_story_version_executions"] == expected
    assert {testio_sandbox.user_story_id_of(i) for i in ids(body)} == set(stories)


async def test_filter_by_version_ids_desc(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    versions = [
        testio_sandbox.user_story_version_id_of(1),
        testio_sandbox.user_story_version_id_of(52),
    ]
    params: list[tuple[str, str | int]] = [("user_story_version_ids[]", v) for v in versions]
    _, body, _ = await get(session, testio_sandbox, [*params, ("order", "desc"), ("per_page", 5)])
    expected = testio_sandbox.expected(user_story_version_ids=versions, order="desc")
    assert body["meta"]["record_count"] == len(expected)
    assert body["user_story_version_executions"] == expected[:5]
    assert ids(body) == sorted(ids(body), reverse=True)


async def test_both_filters_are_combined_with_and(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    story = testio_sandbox.user_story_id_of(7)
    version_same_story = testio_sandbox.user_story_version_id_of(7)
    version_other_story = testio_sandbox.user_story_version_id_of(8)
    params: Params = [
        ("user_story_ids[]", story),
        ("user_story_version_ids[]", version_same_story),
        ("user_story_version_ids[]", version_other_story),
        ("per_page", 100),
    ]
    _, body, _ = await get(session, testio_sandbox, params)
    expected = testio_sandbox.expected(
        user_story_ids=[story], user_story_version_ids=[version_same_story, version_other_story]
    )
    assert 7 in ids(body)
    assert body["user_story_version_executions"] == expected
    assert {testio_sandbox.user_story_version_id_of(i) for i in ids(body)} == {version_same_story}


async def test_filter_matching_nothing(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    _, body, _ = await get(session, testio_sandbox, [("user_story_ids[]", 999_999)])
    assert body == {"meta": {"record_count": 0}, "user_story_version_executions": []}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token wrong"}, {"Authorization": "Bearer sandbox-token"}],
)
async def test_auth_failures_are_401_with_error(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    status, body, _ = await get(session, testio_sandbox, headers=headers)
    assert status == 401
    assert isinstance(body["error"], str)


async def test_custom_token(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(token="s3cret")
    status, _, _ = await get(session, sandbox, headers={"Authorization": "Token s3cret"})
    assert status == 200
    status, _, _ = await get(session, sandbox, headers={"Authorization": "Token sandbox-token"})
    assert status == 401


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("page", "0")], 400),
        ([("page", "-1")], 400),
        ([("page", "two")], 400),
        ([("page", "1.5")], 400),
        ([("per_page", "0")], 400),
        ([("per_page", "ten")], 400),
        ([("user_story_ids[]", "x")], 400),
        ([("user_story_version_ids[]", "")], 400),
        ([("order", "sideways")], 422),
        ([("order", "")], 422),
    ],
)
async def test_bad_params(
    testio_sandbox: SandboxServer,
    session: aiohttp.ClientSession,
    params: Params,
    status: int,
) -> None:
    got, body, _ = await get(session, testio_sandbox, params)
    assert got == status
    assert isinstance(body["error"], str)


async def test_unknown_path_is_404(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    root = testio_sandbox.url.removesuffix(API_PREFIX)
    async with session.get(root + PATH, headers=auth(testio_sandbox)) as response:
        assert response.status == 404


async def test_same_seed_same_pages_other_seed_differs(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    first = await testio_sandbox_factory(records=200, seed=5)
    again = await testio_sandbox_factory(records=200, seed=5)
    other = await testio_sandbox_factory(records=200, seed=6)
    params: Params = [("page", 3), ("per_page", 30)]
    pages = [(await get(session, sandbox, params))[1] for sandbox in (first, again, other)]
    assert pages[0] == pages[1]
    assert pages[0] != pages[2]
    assert ids(pages[0]) == ids(pages[2])


async def test_million_records_last_page(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(records=1_000_000)
    _, body, _ = await get(session, sandbox, [("page", 40_000)])
    assert body["meta"]["record_count"] == 1_000_000
    assert ids(body) == list(range(999_976, 1_000_001))
    _, newest, _ = await get(session, sandbox, [("order", "desc"), ("per_page", 3)])
    assert ids(newest) == [1_000_000, 999_999, 999_998]
    version = sandbox.user_story_version_id_of(1_000_000)
    params: Params = [("user_story_version_ids[]", version), ("order", "desc"), ("per_page", 1)]
    _, filtered, _ = await get(session, sandbox, params)
    assert filtered["meta"]["record_count"] == len(range(999_999 % 150, 1_000_000, 150))
    assert ids(filtered) == [1_000_000]
    assert filtered["user_story_version_executions"][0] == sandbox.record(1_000_000)


# -- knobs ---------------------------------------------------------------------


async def test_rate_limit_answers_429_with_integer_retry_after(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    # One request per 1000 s: the second request is over the limit whatever the machine speed.
    testio_sandbox.config.rate_limit = 0.001
    assert (await get(session, testio_sandbox))[0] == 200
    status, body, response = await get(session, testio_sandbox)
    assert status == 429
    assert body == b""
    assert int(response.headers["Retry-After"]) >= 1
    testio_sandbox.config.rate_limit = None
    assert (await get(session, testio_sandbox))[0] == 200


async def test_rate_limit_retry_after_as_http_date(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(rate_limit=0.001, retry_after_format="http-date")
    await get(session, sandbox)
    status, _, response = await get(session, sandbox)
    assert status == 429
    assert email.utils.parsedate_to_datetime(response.headers["Retry-After"]) is not None


async def test_error_rate_one_gives_503(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.config.error_rate = 1.0
    for _ in range(3):
        status, body, _ = await get(session, testio_sandbox)
        assert status == 503
        assert body == {"error": "Service Unavailable"}


async def test_error_rate_is_seeded(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    first = await testio_sandbox_factory(error_rate=0.5, seed=3)
    again = await testio_sandbox_factory(error_rate=0.5, seed=3)
    runs = [[(await get(session, s))[0] for _ in range(20)] for s in (first, again)]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}


async def test_html_error_rate_gives_nginx_502(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.config.html_error_rate = 1.0
    status, body, response = await get(session, testio_sandbox)
    assert status == 502
    assert response.content_type == "text/html"
    assert b"<center>nginx</center>" in body


async def test_truncation_in_connection_mode_raises_payload_error(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.config.truncate_rate = 1.0
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(session, testio_sandbox)
    assert testio_sandbox.stats.connection_resets == 1
    testio_sandbox.config.truncate_rate = 0.0
    assert (await get(session, testio_sandbox))[0] == 200


async def test_truncation_in_body_mode_sends_half_the_json(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(truncate_rate=1.0, truncate_mode="body")
    async with session.get(sandbox.url + PATH, headers=auth(sandbox)) as response:
        assert response.status == 200
        raw = await response.read()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)


async def test_max_per_page_cap(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(max_per_page=10)
    _, body, _ = await get(session, sandbox, [("per_page", 50), ("page", 2)])
    assert body["meta"]["record_count"] == 1000
    # The server reduces per_page before computing the offset, like the bugs endpoint.
    assert ids(body) == list(range(11, 21))


async def test_max_per_page_reject(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(max_per_page=10, per_page_overflow="reject")
    status, body, _ = await get(session, sandbox, [("per_page", 11)])
    assert status == 422
    assert "10" in body["error"]
    assert (await get(session, sandbox, [("per_page", 10)]))[0] == 200


async def test_ignore_page(testio_sandbox: SandboxServer, session: aiohttp.ClientSession) -> None:
    testio_sandbox.config.ignore_page = True
    _, body, _ = await get(session, testio_sandbox, [("page", 3), ("per_page", 5)])
    assert ids(body) == list(range(1, 26))
    _, desc, _ = await get(session, testio_sandbox, [("page", 9), ("order", "desc")])
    assert ids(desc) == list(range(1000, 975, -1))
    assert testio_sandbox.stats.pages_served == [3, 9]


async def test_inserts_shift_desc_pages(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(records=100, insert_per_request=5)
    _, page1, _ = await get(session, sandbox, [("order", "desc"), ("per_page", 10)])
    assert ids(page1) == list(range(100, 90, -1))
    _, page2, _ = await get(session, sandbox, [("order", "desc"), ("per_page", 10), ("page", 2)])
    assert page2["meta"]["record_count"] == 105
    # Five new records on top push 91..95 onto page 2: served twice.
    assert ids(page2) == list(range(95, 85, -1))
    assert sandbox.ids == range(1, 111)
    assert sandbox.record(110)["id"] == 110


async def test_deletes_shift_asc_pages(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(records=100, delete_per_request=5)
    _, page1, _ = await get(session, sandbox, [("per_page", 10)])
    assert ids(page1) == list(range(1, 11))
    _, page2, _ = await get(session, sandbox, [("per_page", 10), ("page", 2)])
    assert page2["meta"]["record_count"] == 95
    # The five oldest are gone, so 11..15 slid onto page 1 and are never seen.
    assert ids(page2) == list(range(16, 26))
    assert sandbox.ids == range(11, 101)
    with pytest.raises(KeyError):
        sandbox.record(3)
    assert sandbox.expected()[0]["id"] == 11


async def test_deletes_never_go_below_zero_records(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    sandbox = await testio_sandbox_factory(records=3, delete_per_request=5)
    await get(session, sandbox)
    _, body, _ = await get(session, sandbox)
    assert body == {"meta": {"record_count": 0}, "user_story_version_executions": []}
    assert len(sandbox.ids) == 0


@pytest.mark.parametrize(("offset", "count"), [(7, 1007), (-30, 970), (-5000, 0)])
async def test_record_count_offset(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession, offset: int, count: int
) -> None:
    testio_sandbox.config.record_count_offset = offset
    _, body, _ = await get(session, testio_sandbox)
    assert body["meta"]["record_count"] == count
    assert len(body["user_story_version_executions"]) == 25


async def test_latency_knob_outlasts_a_short_client_timeout(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.config.latency = 60.0
    timeout = aiohttp.ClientTimeout(total=0.05)
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(testio_sandbox.url + PATH, timeout=timeout):
            pass
    testio_sandbox.config.latency = 0.0
    testio_sandbox.config.latency_jitter = 0.001
    assert (await get(session, testio_sandbox))[0] == 200


# -- scripted faults -------------------------------------------------------------


async def test_inject_is_fifo_and_then_real_answers_resume(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject(500, body={"error": "boom"})
    testio_sandbox.inject(404, body=b"missing", headers={"X-Test": "1"}, times=2)
    assert testio_sandbox.pending_injections == 3
    status, body, _ = await get(session, testio_sandbox)
    assert (status, body) == (500, {"error": "boom"})
    for _ in range(2):
        status, body, response = await get(session, testio_sandbox)
        assert (status, body, response.headers["X-Test"]) == (404, b"missing", "1")
    assert (await get(session, testio_sandbox))[0] == 200
    assert testio_sandbox.pending_injections == 0


async def test_inject_targets_a_page(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject(503, body="busy", page=2)
    assert (await get(session, testio_sandbox, [("page", 1)]))[0] == 200
    status, body, response = await get(session, testio_sandbox, [("page", 2)])
    assert (status, body, response.content_type) == (503, b"busy", "text/plain")
    assert (await get(session, testio_sandbox, [("page", 2)]))[0] == 200


async def test_inject_page_one_matches_a_request_without_page(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject(418, page=1)
    assert (await get(session, testio_sandbox))[0] == 418


async def test_clear_injected(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject(500, times=3)
    testio_sandbox.clear_injected()
    assert (await get(session, testio_sandbox))[0] == 200


async def test_inject_delay_outlasts_a_short_client_timeout(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject(200, body={"late": True}, delay=60.0)
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(
            testio_sandbox.url + PATH, timeout=aiohttp.ClientTimeout(total=0.05)
        ):
            pass
    assert (await get(session, testio_sandbox))[0] == 200


async def test_inject_reset_mid_body(
    testio_sandbox: SandboxServer, fresh_session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject_reset(page=2)
    assert (await get(fresh_session, testio_sandbox))[0] == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(fresh_session, testio_sandbox, [("page", 2)])
    assert (await get(fresh_session, testio_sandbox, [("page", 2)]))[0] == 200
    assert testio_sandbox.stats.connection_resets == 1
    assert testio_sandbox.stats.status_counts == {200: 2}


async def test_inject_reset_before_headers(
    testio_sandbox: SandboxServer, fresh_session: aiohttp.ClientSession
) -> None:
    # aiohttp retries an idempotent request once after a disconnect before the
    # status line, so it takes two resets to make one GET fail.
    testio_sandbox.inject_reset(times=3, at="headers")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get(fresh_session, testio_sandbox)
    assert testio_sandbox.stats.requests == 2
    # The third reset is absorbed by the client's own retry.
    assert (await get(fresh_session, testio_sandbox))[0] == 200
    assert testio_sandbox.stats.requests == 4
    assert testio_sandbox.stats.connection_resets == 3


async def test_injections_and_resets_share_one_fifo(
    testio_sandbox: SandboxServer, fresh_session: aiohttp.ClientSession
) -> None:
    testio_sandbox.inject_reset()
    testio_sandbox.inject(502)
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(fresh_session, testio_sandbox)
    assert (await get(fresh_session, testio_sandbox))[0] == 502


# -- counters and request log ----------------------------------------------------


async def test_counters(testio_sandbox: SandboxServer, session: aiohttp.ClientSession) -> None:
    await get(session, testio_sandbox, [("page", 1)])
    await get(session, testio_sandbox, [("page", 2)])
    await get(session, testio_sandbox, [("page", 2)], headers={})
    await get(session, testio_sandbox, [("page", "x")])
    stats = testio_sandbox.stats
    assert stats.requests == 4
    assert stats.status_counts == {200: 2, 401: 1, 400: 1}
    assert stats.pages_served == [1, 2]
    assert stats.in_flight == 0
    assert stats.peak_in_flight == 1
    stats.reset()
    assert (stats.requests, stats.status_counts, stats.pages_served) == (0, {}, [])
    assert stats.peak_in_flight == 0


async def test_peak_in_flight_with_held_requests(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    testio_sandbox.hold()
    requests = [
        asyncio.create_task(get(session, testio_sandbox, [("page", page)])) for page in (1, 2, 3, 4)
    ]
    await asyncio.wait_for(testio_sandbox.wait_for_in_flight(4), timeout=30)
    assert testio_sandbox.stats.in_flight == 4
    testio_sandbox.release()
    results = await asyncio.gather(*requests)
    assert [status for status, _, _ in results] == [200] * 4
    assert testio_sandbox.stats.peak_in_flight == 4
    assert testio_sandbox.stats.in_flight == 0
    assert sorted(testio_sandbox.stats.pages_served) == [1, 2, 3, 4]


async def test_request_log_keeps_query_and_authorization(
    testio_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    params: Params = [("user_story_ids[]", 1), ("user_story_ids[]", 2), ("page", 3)]
    await get(session, testio_sandbox, params)
    await get(session, testio_sandbox, headers={"User-Agent": "probe"})
    with_token, without = testio_sandbox.requests_log
    assert with_token.path == "/customer/v2/user_story_version_executions"
    assert with_token.method == "GET"
    assert with_token.query == (("user_story_ids[]", "1"), ("user_story_ids[]", "2"), ("page", "3"))
    assert with_token.query_values("user_story_ids[]") == ["1", "2"]
    assert with_token.page == 3
    assert with_token.authorization == "Token sandbox-token"
    assert without.authorization is None
    assert ("User-Agent", "probe") in without.headers
    assert without.page == 1


# -- embedding, serve(), fixtures, process -----------------------------------------


async def test_create_app_embeds_a_sandbox(session: aiohttp.ClientSession) -> None:
    app = create_app(SandboxConfig(records=30, token="embedded"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}{API_PREFIX}{PATH}"
        async with session.get(url, headers={"Authorization": "Token embedded"}) as response:
            body = await response.json()
        assert body["meta"]["record_count"] == 30
        assert sandbox_of(app).stats.requests == 1
    finally:
        await runner.cleanup()


async def test_serve_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    ready: asyncio.Future[SandboxServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(SandboxConfig(records=5), "127.0.0.1", 0, on_ready=ready.set_result)
    )
    server = await asyncio.wait_for(ready, timeout=30)
    _, body, _ = await get(session, server)
    assert body["meta"]["record_count"] == 5
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not server.running


async def test_fixture_defaults(testio_sandbox: SandboxServer) -> None:
    assert testio_sandbox.config == SandboxConfig()
    assert testio_sandbox.ids == range(1, 1001)


async def test_factory_fixture_starts_independent_sandboxes(
    testio_sandbox_factory: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    small = await testio_sandbox_factory(records=3)
    custom = await testio_sandbox_factory(SandboxConfig(records=7, seed=1))
    assert small.port != custom.port
    assert (await get(session, small))[1]["meta"]["record_count"] == 3
    assert (await get(session, custom))[1]["meta"]["record_count"] == 7


async def test_server_stops_cleanly_with_a_held_request(session: aiohttp.ClientSession) -> None:
    sandbox = SandboxServer(records=5)
    async with sandbox:
        sandbox.hold()
        pending = asyncio.create_task(get(session, sandbox))
        await asyncio.wait_for(sandbox.wait_for_in_flight(1), timeout=30)
    assert not sandbox.running
    # Shutdown released the held request; it was answered or its connection closed.
    with contextlib.suppress(aiohttp.ClientError):
        await pending
    assert sandbox.stats.in_flight == 0


async def test_module_entry_point_prints_url_and_token(session: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testio_async.sandbox",
        "--port", "0",
        "--records", "42",
        "--token", "bench",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        url, token = line.decode().split()
        assert token == "bench"
        assert url.endswith(API_PREFIX)
        async with session.get(url + PATH, headers={"Authorization": "Token bench"}) as response:
            body = await response.json()
        assert body["meta"]["record_count"] == 42
    finally:
        process.terminate()
        await process.wait()
    assert process.returncode == 0

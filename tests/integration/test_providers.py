"""Provider adapters against a local server speaking each vendor's real wire format."""

from __future__ import annotations

import asyncio
import email.utils
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.responses import Response

from app.llm.providers import adapter_for, http, target_for
from app.llm.providers.anthropic import AnthropicAdapter
from app.llm.providers.base import (
    ChatRequest,
    Completion,
    ErrorKind,
    Message,
    ProviderError,
    Target,
)
from app.llm.providers.gemini import GeminiAdapter
from app.llm.providers.openai import OpenAIAdapter
from app.llm.providers.simulated import SimulatedAdapter
from tests.stubs import vendors
from tests.stubs.vendors import StubServer

KEY = "sk-test-0123456789abcdef"
QUESTION = [Message("user", "Should the lighthouse keeper leave her post?")]
CONVERSATION = [
    Message("system", "You are a careful ethicist."),
    Message("user", "Should she leave?"),
    Message("assistant", "Rating: 2"),
    Message("user", "Why?"),
]


@dataclass(frozen=True)
class Vendor:
    name: vendors.Vendor  # the stub's wire format
    provider: str  # the provider row name
    model: str
    key_header: str
    key_value: str


OPENAI = Vendor("openai", "openai", "gpt-4o", "authorization", f"Bearer {KEY}")
ANTHROPIC = Vendor("anthropic", "anthropic", "claude-sonnet-4-5", "x-api-key", KEY)
GEMINI = Vendor("gemini", "google", "gemini-2.5-flash", "x-goog-api-key", KEY)


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with vendors.serve() as running:
        yield running


@pytest.fixture
async def stub(server: StubServer) -> AsyncIterator[StubServer]:
    server.script.reset(default=vendors.success())
    try:
        yield server
    finally:
        await http.aclose()


@pytest.fixture(params=[OPENAI, ANTHROPIC, GEMINI], ids=lambda v: v.name)
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return request.param  # type: ignore[no-any-return]


def target(stub: StubServer, vendor: Vendor, **overrides: Any) -> Target:
    values: dict[str, Any] = {
        "provider": vendor.provider,
        "model": vendor.model,
        "base_url": stub.base_url(vendor.name),
        "api_key": KEY,
    }
    return Target(**{**values, **overrides})


async def call(
    stub: StubServer, vendor: Vendor, messages: list[Message] = QUESTION, **options: Any
) -> Completion:
    target_options = {k: options.pop(k) for k in ("timeout_seconds", "api_key") if k in options}
    request = ChatRequest(target(stub, vendor, **target_options), messages, **options)
    return await adapter_for(vendor.provider).complete(request)


async def failure(stub: StubServer, vendor: Vendor, *replies: vendors.Reply) -> ProviderError:
    stub.script.push(*replies)
    with pytest.raises(ProviderError) as info:
        await call(stub, vendor, timeout_seconds=5)
    return info.value


def received_body(stub: StubServer) -> Any:
    (only,) = stub.script.received
    return only.body


# Success and request shapes --------------------------------------------------------------


async def test_success_reads_text_tokens_and_model_version(
    stub: StubServer, vendor: Vendor
) -> None:
    stub.script.push(
        vendors.success(
            "Rating: 4\n\nKeep the light.",
            model_version="v-2025-01",
            input_tokens=21,
            output_tokens=9,
        )
    )

    completion = await call(stub, vendor)

    assert completion == Completion("Rating: 4\n\nKeep the light.", 21, 9, "v-2025-01")
    (received,) = stub.script.received
    assert received.headers[vendor.key_header] == vendor.key_value
    assert received.headers["content-type"] == "application/json"


async def test_reply_text_joins_every_text_part(stub: StubServer, vendor: Vendor) -> None:
    stub.script.push(vendors.success("Rating: ", "5", "\n\nAlways."))
    completion = await call(stub, vendor)
    assert completion.text == "Rating: 5\n\nAlways."


async def test_openai_request_shape(stub: StubServer) -> None:
    await call(stub, OPENAI, temperature=0.7, max_tokens=256)

    (received,) = stub.script.received
    assert received.path == "/openai/v1/chat/completions"
    assert received.body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": QUESTION[0].content}],
        "temperature": 0.7,
        "max_tokens": 256,
    }


async def test_openai_conversation_keeps_every_role_in_order(stub: StubServer) -> None:
    await call(stub, OPENAI, CONVERSATION)

    assert received_body(stub) == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a careful ethicist."},
            {"role": "user", "content": "Should she leave?"},
            {"role": "assistant", "content": "Rating: 2"},
            {"role": "user", "content": "Why?"},
        ],
    }


async def test_openai_compatible_server_without_key_gets_no_authorization(
    stub: StubServer,
) -> None:
    await call(stub, OPENAI, api_key=None)
    (received,) = stub.script.received
    assert "authorization" not in received.headers


async def test_anthropic_request_shape(stub: StubServer) -> None:
    await call(stub, ANTHROPIC, temperature=0.2, max_tokens=300)

    (received,) = stub.script.received
    assert received.path == "/anthropic/v1/messages"
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    assert received.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": QUESTION[0].content}],
        "temperature": 0.2,
    }


async def test_anthropic_conversation_moves_system_to_the_top_level(stub: StubServer) -> None:
    await call(stub, ANTHROPIC, CONVERSATION)

    assert received_body(stub) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,  # required by the API: the default when none is asked for
        "system": "You are a careful ethicist.",
        "messages": [
            {"role": "user", "content": "Should she leave?"},
            {"role": "assistant", "content": "Rating: 2"},
            {"role": "user", "content": "Why?"},
        ],
    }


async def test_anthropic_reads_only_text_blocks(stub: StubServer) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Rating: 1"},
            {"type": "text", "text": " because."},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 6},
    }
    stub.script.push(vendors.raw(200, body))
    completion = await call(stub, ANTHROPIC)
    assert completion == Completion("Rating: 1 because.", 5, 6, "claude-sonnet-4-5")


async def test_gemini_request_shape(stub: StubServer) -> None:
    await call(stub, GEMINI, temperature=1.0, max_tokens=64)

    (received,) = stub.script.received
    assert received.path == "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    assert received.query == ""  # the key travels in a header, never in the URL
    assert received.body == {
        "contents": [{"role": "user", "parts": [{"text": QUESTION[0].content}]}],
        "generationConfig": {"temperature": 1.0, "maxOutputTokens": 64},
    }


async def test_gemini_conversation_maps_roles_and_system_instruction(stub: StubServer) -> None:
    await call(stub, GEMINI, CONVERSATION)

    assert received_body(stub) == {
        "systemInstruction": {"parts": [{"text": "You are a careful ethicist."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Should she leave?"}]},
            {"role": "model", "parts": [{"text": "Rating: 2"}]},
            {"role": "user", "parts": [{"text": "Why?"}]},
        ],
        "generationConfig": {},
    }


async def test_gemini_model_version_falls_back_to_the_target_model(stub: StubServer) -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "Rating: 3"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 4,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 5,
        },
    }
    stub.script.push(vendors.raw(200, body))
    completion = await call(stub, GEMINI)
    # Thinking tokens are billed as output.
    assert completion == Completion("Rating: 3", 4, 7, "gemini-2.5-flash")


async def test_concurrent_calls_share_the_client(stub: StubServer) -> None:
    stub.script.reset(default=vendors.success().after(0.3))
    results = await asyncio.gather(*(call(stub, OPENAI) for _ in range(20)))
    assert len(results) == 20
    assert len(stub.script.received) == 20
    assert stub.script.max_in_flight > 1


# Error classification --------------------------------------------------------------------


async def test_rate_limit_is_retryable_after_retry_after(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.rate_limited(retry_after="2"))

    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retryable
    assert error.retry_after == 2.0
    assert error.status == 429
    assert error.message.startswith("HTTP 429: ")


async def test_rate_limit_without_retry_after(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.rate_limited(retry_after=None))
    assert (error.kind, error.retry_after) == (ErrorKind.RATE_LIMIT, None)


async def test_retry_after_ms_is_preferred(stub: StubServer) -> None:
    error = await failure(stub, OPENAI, vendors.rate_limited("1", retry_after_ms="250"))
    assert error.retry_after == 0.25


async def test_retry_after_as_http_date(stub: StubServer) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    error = await failure(stub, ANTHROPIC, vendors.rate_limited(when))
    assert error.retry_after is not None
    assert 20 < error.retry_after <= 30


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert http.parse_retry_after("7", now=now) == 7.0
    assert http.parse_retry_after("1.5", now=now) == 1.5
    assert http.parse_retry_after("Wed, 01 Jan 2025 12:00:42 GMT", now=now) == 42.0
    assert http.parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert http.parse_retry_after("-3", now=now) == 0.0
    assert http.parse_retry_after("soon", now=now) is None


async def test_gemini_rate_limit_reads_retry_info(stub: StubServer) -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "21s"}],
        }
    }
    error = await failure(stub, GEMINI, vendors.raw(429, body))
    assert (error.kind, error.retry_after) == (ErrorKind.RATE_LIMIT, 21.0)


async def test_quota_exhausted_is_not_retryable(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.quota_exhausted())

    assert error.kind is ErrorKind.QUOTA_EXHAUSTED
    assert not error.retryable
    assert error.retry_after is None
    assert re.search(r"quota|credit balance", error.message)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_are_retryable(stub: StubServer, vendor: Vendor, status: int) -> None:
    error = await failure(stub, vendor, vendors.server_error(status, "upstream exploded"))

    assert error.kind is ErrorKind.SERVER_ERROR
    assert error.retryable
    assert error.message == f"HTTP {status}: upstream exploded"


async def test_anthropic_overloaded(stub: StubServer) -> None:
    error = await failure(stub, ANTHROPIC, vendors.overloaded())
    assert (error.kind, error.status, error.message) == (
        ErrorKind.SERVER_ERROR,
        529,
        "HTTP 529: Overloaded",
    )


async def test_unauthorized_is_auth_and_never_shows_the_key(
    stub: StubServer, vendor: Vendor
) -> None:
    # Some vendors echo the key they were sent.
    error = await failure(stub, vendor, vendors.unauthorized(f"Incorrect API key provided: {KEY}."))

    assert error.kind is ErrorKind.AUTH
    assert not error.retryable
    assert error.message == "HTTP 401: Incorrect API key provided: [redacted]."
    assert KEY not in str(error)


async def test_a_key_straddling_the_cut_is_redacted_before_the_message_is_cut(
    stub: StubServer, vendor: Vendor
) -> None:
    # Cut first, the message would end in the key's first characters, which match nothing.
    padding = "x" * 290
    echoed = f"{padding} {KEY} was refused"
    error = await failure(stub, vendor, vendors.unauthorized(echoed))

    redacted = f"{padding} [redacted] was refused"
    assert error.message == f"HTTP 401: {redacted[:299]}…"
    assert KEY[:6] not in error.message


async def test_other_providers_keys_and_credential_values_are_redacted(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-other-provider-key")
    message = (
        "Proxy saw sk-ant-other-provider-key; Authorization: Bearer tok_9f8e7d6c5b4a "
        "and x-api-key: abcdef0123456789 and api_key=qwertyuiop1234, so use Bearer auth."
    )
    error = await failure(stub, OPENAI, vendors.error(400, message))

    assert error.message == (
        "HTTP 400: Proxy saw [redacted]; Authorization: Bearer [redacted] "
        "and x-api-key: [redacted] and api_key=[redacted], so use Bearer auth."
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.BAD_REQUEST),
        (402, ErrorKind.QUOTA_EXHAUSTED),
        (403, ErrorKind.AUTH),
        (404, ErrorKind.NOT_FOUND),
        (413, ErrorKind.BAD_REQUEST),
        (422, ErrorKind.BAD_REQUEST),
    ],
)
async def test_client_errors_are_classified(
    stub: StubServer, vendor: Vendor, status: int, kind: ErrorKind
) -> None:
    error = await failure(stub, vendor, vendors.error(status, "nope"))

    assert (error.kind, error.status, error.message) == (kind, status, f"HTTP {status}: nope")
    assert not error.retryable


async def test_error_without_a_json_body(stub: StubServer) -> None:
    error = await failure(stub, OPENAI, vendors.Reply(lambda v, m: Response("Bad Gateway", 502)))
    assert (error.kind, error.message) == (ErrorKind.SERVER_ERROR, "HTTP 502")


async def test_timeout(stub: StubServer, vendor: Vendor) -> None:
    stub.script.push(vendors.slow(5))
    with pytest.raises(ProviderError) as info:
        await call(stub, vendor, timeout_seconds=0.2)

    assert info.value.kind is ErrorKind.TIMEOUT
    assert info.value.retryable
    assert info.value.message == "no response within 0.2s"


async def test_dropped_connection_is_a_network_error(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.drop())
    assert error.kind is ErrorKind.NETWORK
    assert error.retryable


async def test_connection_refused_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        unreachable = Target("openai", "gpt-4o", f"http://127.0.0.1:{port}/v1", api_key=KEY)
        try:
            with pytest.raises(ProviderError) as info:
                await OpenAIAdapter().complete(ChatRequest(unreachable, QUESTION))
        finally:
            await http.aclose()
    assert info.value.kind is ErrorKind.NETWORK
    assert info.value.message.startswith("ConnectError: ")
    assert KEY not in str(info.value)


async def test_malformed_json_is_a_server_error(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.malformed())
    assert (error.kind, error.message) == (
        ErrorKind.SERVER_ERROR,
        "HTTP 200: reply is not valid JSON",
    )


async def test_empty_reply(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.empty())
    assert error.kind is ErrorKind.EMPTY_REPLY
    assert not error.retryable


async def test_whitespace_reply_is_empty(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.success("  \n\t "))
    assert error.kind is ErrorKind.EMPTY_REPLY


async def test_refusal(stub: StubServer, vendor: Vendor) -> None:
    error = await failure(stub, vendor, vendors.refusal())
    assert error.kind is ErrorKind.REFUSAL
    assert not error.retryable


async def test_openai_refusal_field(stub: StubServer) -> None:
    body = {
        "model": "gpt-4o",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": "I can't help with that.",
                },
                "finish_reason": "stop",
            }
        ],
    }
    error = await failure(stub, OPENAI, vendors.raw(200, body))
    assert (error.kind, error.message) == (
        ErrorKind.REFUSAL,
        "HTTP 200: the model refused: I can't help with that.",
    )


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION"])
async def test_gemini_blocked_candidate_is_a_refusal(stub: StubServer, reason: str) -> None:
    body = {
        "candidates": [{"finishReason": reason, "index": 0}],
        "modelVersion": "gemini-2.5-flash",
    }
    error = await failure(stub, GEMINI, vendors.raw(200, body))
    assert (error.kind, error.message) == (
        ErrorKind.REFUSAL,
        f"HTTP 200: the reply was blocked (finishReason {reason})",
    )


async def test_gemini_blocked_candidate_with_text_is_a_reply(stub: StubServer) -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "Rating: 2"}]}, "finishReason": "SAFETY"}]
    }
    stub.script.push(vendors.raw(200, body))
    assert (await call(stub, GEMINI)).text == "Rating: 2"


# Simulated -------------------------------------------------------------------------------


def simulated(seed: str = "run:scenario:model:0:1", **api_config: Any) -> ChatRequest:
    target = Target("simulated", "sim-model", "simulated://", api_config=api_config)
    return ChatRequest(target, [Message("system", "Be brief."), *QUESTION], seed=seed)


async def test_simulated_is_deterministic() -> None:
    adapter = SimulatedAdapter()
    first = await adapter.complete(simulated("r1:s1:m1:0:1"))
    again = await adapter.complete(simulated("r1:s1:m1:0:1"))
    others = {(await adapter.complete(simulated(f"r1:s1:m1:{i}:1"))).text for i in range(20)}

    assert first == again
    assert len(others) > 1


async def test_simulated_reply_states_a_rating_and_counts_tokens() -> None:
    ratings = set()
    for i in range(100):
        completion = await SimulatedAdapter().complete(simulated(f"run:s:m:{i}:1"))
        match = re.search(r"^Rating: (\d)$", completion.text, re.MULTILINE)
        assert match is not None
        ratings.add(int(match.group(1)))
        assert completion.input_tokens == 2 + 7  # "Be brief." + the question
        assert completion.output_tokens == len(completion.text.split())
        assert completion.model_version == "sim-model-sim"
    assert ratings == {1, 2, 3, 4, 5}


async def test_simulated_counts_at_least_one_input_token() -> None:
    request = ChatRequest(Target("simulated", "m", "simulated://"), [Message("user", "")], seed="x")
    assert (await SimulatedAdapter().complete(request)).input_tokens == 1


@pytest.mark.parametrize(
    ("failure_kind", "kind"),
    [
        ("RATE_LIMITED", ErrorKind.RATE_LIMIT),
        ("TIMEOUT", ErrorKind.TIMEOUT),
        ("QUOTA_EXHAUSTED", ErrorKind.QUOTA_EXHAUSTED),
        ("AUTH", ErrorKind.AUTH),
        ("REFUSAL", ErrorKind.REFUSAL),
        ("EMPTY", ErrorKind.EMPTY_REPLY),
    ],
)
async def test_simulated_failure_kind(failure_kind: str, kind: ErrorKind) -> None:
    request = simulated(failureRate=1.0, failureKind=failure_kind)
    with pytest.raises(ProviderError) as raised:
        await SimulatedAdapter().complete(request)
    assert raised.value.kind == kind


async def test_simulated_failure_rate() -> None:
    adapter = SimulatedAdapter()

    async def fails(rate: float, seed: str) -> bool:
        try:
            await adapter.complete(simulated(seed, failureRate=rate))
        except ProviderError as error:
            assert (error.kind, error.message) == (ErrorKind.SERVER_ERROR, "simulated failure")
            assert error.retryable
            return True
        return False

    seeds = [f"run:s:m:{i}:1" for i in range(100)]
    assert all([await fails(1.0, seed) for seed in seeds])
    assert not any([await fails(0.0, seed) for seed in seeds])
    half = [await fails(0.5, seed) for seed in seeds]
    assert 20 < sum(half) < 80
    assert half == [await fails(0.5, seed) for seed in seeds]  # the same seeds fail again


async def test_simulated_fail_always_is_permanent() -> None:
    with pytest.raises(ProviderError) as info:
        await SimulatedAdapter().complete(simulated(failAlways=True))
    assert (info.value.kind, info.value.message) == (
        ErrorKind.BAD_REQUEST,
        "simulated permanent failure",
    )
    assert not info.value.retryable


async def test_simulated_latency_is_awaited() -> None:
    started = time.monotonic()
    await SimulatedAdapter().complete(simulated(latencyMs=60))
    assert time.monotonic() - started >= 0.059


async def test_simulated_call_can_be_cancelled() -> None:
    task = asyncio.create_task(SimulatedAdapter().complete(simulated(latencyMs=60_000)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_simulated_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the simulated provider must not open a connection")

    monkeypatch.setattr(http, "client", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    completion = await adapter_for("simulated").complete(simulated(latencyMs=1))
    assert "Rating: " in completion.text


# adapter_for and target_for --------------------------------------------------------------

ENV_VARIABLES = [
    f"{prefix}_{suffix}"
    for prefix in ("OPENAI", "ANTHROPIC", "GOOGLE", "GEMINI", "XAI", "OLLAMA", "VLLM", "MY_LLM")
    for suffix in ("API_KEY", "BASE_URL")
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("provider", "adapter"),
    [
        ("openai", OpenAIAdapter),
        ("anthropic", AnthropicAdapter),
        ("google", GeminiAdapter),
        ("simulated", SimulatedAdapter),
        ("xai", OpenAIAdapter),
        ("ollama", OpenAIAdapter),
        ("some-vllm", OpenAIAdapter),
    ],
)
def test_adapter_for(provider: str, adapter: type) -> None:
    assert isinstance(adapter_for(provider).wire, adapter)


async def test_every_call_is_counted_and_timed_by_provider_and_outcome() -> None:
    def count(outcome: str) -> float:
        labels = {"provider": "simulated", "outcome": outcome}
        return REGISTRY.get_sample_value("valuerank_provider_calls_total", labels) or 0.0

    def timed() -> float:
        labels = {"provider": "simulated"}
        return (
            REGISTRY.get_sample_value("valuerank_provider_call_duration_seconds_count", labels)
            or 0.0
        )

    before = (count("success"), count("BAD_REQUEST"), timed())
    await adapter_for("simulated").complete(simulated(latencyMs=1))
    with pytest.raises(ProviderError):
        await adapter_for("simulated").complete(simulated(failAlways=True))
    assert (count("success"), count("BAD_REQUEST"), timed()) == (
        before[0] + 1,
        before[1] + 1,
        before[2] + 2,
    )
    in_flight = REGISTRY.get_sample_value(
        "valuerank_provider_calls_in_flight", {"provider": "simulated"}
    )
    assert in_flight == 0


def test_target_for_reads_key_and_default_base_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENAI_API_KEY", KEY)

    target = target_for("openai", "gpt-4o", None)

    assert target == Target("openai", "gpt-4o", "https://api.openai.com/v1", api_key=KEY)
    assert target.timeout_seconds == 120.0
    assert KEY not in repr(target)
    assert KEY not in repr(ChatRequest(target, QUESTION))


@pytest.mark.parametrize(
    ("provider", "base_url"),
    [
        ("anthropic", "https://api.anthropic.com/v1"),
        ("google", "https://generativelanguage.googleapis.com/v1beta"),
        ("xai", "https://api.x.ai/v1"),
        ("deepseek", "https://api.deepseek.com/v1"),
        ("mistral", "https://api.mistral.ai/v1"),
        ("openrouter", "https://openrouter.ai/api/v1"),
        ("ollama", "http://127.0.0.1:11434/v1"),
        ("simulated", "simulated://"),
    ],
)
def test_target_for_default_base_urls(
    env: pytest.MonkeyPatch, provider: str, base_url: str
) -> None:
    env.delenv(f"{provider.upper()}_BASE_URL", raising=False)
    target = target_for(provider, "m", None)
    assert target.base_url == base_url


def test_target_for_google_also_reads_gemini_api_key(env: pytest.MonkeyPatch) -> None:
    env.setenv("GEMINI_API_KEY", "gemini-key")
    assert target_for("google", "gemini-2.5-flash", None).api_key == "gemini-key"
    env.setenv("GOOGLE_API_KEY", "google-key")
    assert target_for("google", "gemini-2.5-flash", None).api_key == "google-key"


def test_target_for_base_url_from_env_and_api_config(env: pytest.MonkeyPatch) -> None:
    env.setenv("OLLAMA_BASE_URL", "http://gpu-box:11434/v1/")
    assert target_for("ollama", "llama3", None).base_url == "http://gpu-box:11434/v1"
    assert target_for("ollama", "llama3", None).api_key is None

    config = {"baseUrl": "http://other:8000/v1", "timeoutSeconds": 30, "latencyMs": 5}
    target = target_for("ollama", "llama3", config)
    assert (target.base_url, target.timeout_seconds) == ("http://other:8000/v1", 30.0)
    assert target.api_config == config


def test_target_for_unknown_provider_uses_its_prefix(env: pytest.MonkeyPatch) -> None:
    env.setenv("MY_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    env.setenv("MY_LLM_API_KEY", "local-key")
    target = target_for("my-llm", "qwen", None)
    assert (target.base_url, target.api_key) == ("http://127.0.0.1:9/v1", "local-key")


def test_target_for_unknown_provider_without_base_url(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderError) as info:
        target_for("vllm", "qwen", None)
    assert (info.value.kind, info.value.message) == (
        ErrorKind.BAD_REQUEST,
        "no base URL for provider 'vllm': set VLLM_BASE_URL",
    )


@pytest.mark.parametrize("timeout", [0, -1, "30", True])
def test_target_for_rejects_a_bad_timeout(env: pytest.MonkeyPatch, timeout: Any) -> None:
    with pytest.raises(ProviderError) as info:
        target_for("openai", "gpt-4o", {"timeoutSeconds": timeout})
    assert info.value.kind is ErrorKind.BAD_REQUEST


def untrusted(provider: str, api_config: dict[str, Any], **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        target_for(provider, "m", api_config, **options)
    return info.value


def test_target_for_sends_the_key_to_the_providers_own_origin(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENAI_API_KEY", KEY)
    own = target_for("openai", "gpt-4o", {"baseUrl": "https://API.openai.com:443/v1/"})
    assert own.api_key == KEY

    env.setenv("OPENAI_BASE_URL", "http://proxy.internal:8080/v1")
    assert target_for("openai", "gpt-4o", {"baseUrl": "http://proxy.internal:8080/x"}).api_key
    assert target_for("openai", "gpt-4o", {"baseUrl": "https://api.openai.com/v1"}).api_key


@pytest.mark.parametrize(
    "base_url",
    [
        "https://attacker.example/v1",
        "http://api.openai.com/v1",  # the vendor's host, but in plain text
        "https://api.openai.com:8443/v1",
        "https://api.openai.com.attacker.example/v1",
        "https://attacker.example\\@api.openai.com/v1",  # hosts differ by parser
        "https://user@api.openai.com/v1",
    ],
)
def test_target_for_refuses_to_send_a_key_anywhere_else(
    env: pytest.MonkeyPatch, base_url: str
) -> None:
    env.setenv("OPENAI_API_KEY", KEY)
    error = untrusted("openai", {"baseUrl": base_url})

    assert error.kind is ErrorKind.UNTRUSTED_HOST and not error.retryable
    assert "PROVIDER_HOST_ALLOWLIST" in error.message
    assert error.message.startswith("the openai API key is not sent to ")
    assert KEY not in error.message


def test_target_for_sends_the_key_to_an_allowlisted_host(env: pytest.MonkeyPatch) -> None:
    env.setenv("ANTHROPIC_API_KEY", KEY)
    config = {"baseUrl": "http://gateway.lan:8000/anthropic"}

    assert target_for("anthropic", "c", config, trusted_hosts=["gateway.lan"]).api_key == KEY
    assert target_for("anthropic", "c", config, trusted_hosts=["gateway.lan:8000"]).api_key
    assert untrusted("anthropic", config, trusted_hosts=["gateway.lan:9000"])
    assert untrusted("anthropic", config, trusted_hosts=["other.lan", "lan"])


def test_target_for_without_a_key_calls_any_base_url(env: pytest.MonkeyPatch) -> None:
    # Nothing to leak: a keyless local server (Ollama, vLLM) may live anywhere.
    target = target_for("ollama", "llama3", {"baseUrl": "http://gpu-box:11434/v1"})
    assert (target.base_url, target.api_key) == ("http://gpu-box:11434/v1", None)


async def test_target_for_end_to_end(env: pytest.MonkeyPatch, stub: StubServer) -> None:
    env.setenv("XAI_BASE_URL", stub.openai_base_url)
    env.setenv("XAI_API_KEY", KEY)
    stub.script.push(vendors.success("Rating: 5", model_version="grok-4-0709"))

    target = target_for("xai", "grok-4", {"timeoutSeconds": 5})
    completion = await adapter_for("xai").complete(ChatRequest(target, QUESTION, seed="ignored"))

    assert (completion.text, completion.model_version) == ("Rating: 5", "grok-4-0709")
    assert stub.script.received[0].headers["authorization"] == f"Bearer {KEY}"

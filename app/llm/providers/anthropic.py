"""Anthropic messages: `POST {base_url}/messages`."""

from __future__ import annotations

from typing import Any

from app.llm.providers import http
from app.llm.providers.base import ChatRequest, Completion, Target

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # the messages API requires max_tokens


class AnthropicAdapter:
    async def complete(self, request: ChatRequest) -> Completion:
        target = request.target
        data = await http.post_json(
            target,
            f"{target.base_url}/messages",
            headers=request_headers(target),
            body=request_body(request),
        )
        return parse_completion(data)


def request_headers(target: Target) -> dict[str, str]:
    headers = {"anthropic-version": API_VERSION}
    if target.api_key:
        headers["x-api-key"] = target.api_key
    return headers


def request_body(request: ChatRequest) -> dict[str, Any]:
    """System messages go to the top-level `system` string; the rest stay in order."""
    system = [m.content for m in request.messages if m.role == "system"]
    body: dict[str, Any] = {
        "model": request.target.model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
        "messages": [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ],
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def parse_completion(data: dict[str, Any]) -> Completion:
    if data.get("stop_reason") == "refusal":
        raise http.refusal("the model refused (stop_reason refusal)")
    blocks = http.objects(data.get("content"))
    text = "".join(
        block["text"]
        for block in blocks
        if block.get("type") == "text" and isinstance(block.get("text"), str)
    )
    usage = http.mapping(data.get("usage"))
    return Completion(
        text=http.require_text(text),
        input_tokens=http.token_count(usage.get("input_tokens")),
        output_tokens=http.token_count(usage.get("output_tokens")),
        model_version=http.model_name(data.get("model")),
    )

"""Google Gemini: `POST {base_url}/models/{model}:generateContent`."""

from __future__ import annotations

from typing import Any

from app.llm.providers import http
from app.llm.providers.base import ChatRequest, Completion, Target

# A candidate that stopped for one of these and has no text was blocked, not merely empty.
BLOCKED_FINISH_REASONS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION"})
_ROLES = {"user": "user", "assistant": "model"}


class GeminiAdapter:
    async def complete(self, request: ChatRequest) -> Completion:
        target = request.target
        data = await http.post_json(
            target,
            endpoint(target),
            headers=request_headers(target),
            body=request_body(request),
        )
        return parse_completion(target, data)


def endpoint(target: Target) -> str:
    model = target.model.removeprefix("models/")
    return f"{target.base_url}/models/{model}:generateContent"


def request_headers(target: Target) -> dict[str, str]:
    # The key goes in a header, never in the URL's `?key=` (URLs end up in logs and errors).
    return {"x-goog-api-key": target.api_key} if target.api_key else {}


def request_body(request: ChatRequest) -> dict[str, Any]:
    system = [m.content for m in request.messages if m.role == "system"]
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    body: dict[str, Any] = {
        "contents": [
            {"role": _ROLES[m.role], "parts": [{"text": m.content}]}
            for m in request.messages
            if m.role != "system"
        ],
        "generationConfig": config,
    }
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    return body


def parse_completion(target: Target, data: dict[str, Any]) -> Completion:
    block_reason = http.mapping(data.get("promptFeedback")).get("blockReason")
    if block_reason:
        raise http.refusal(f"the prompt was blocked (blockReason {block_reason})")
    candidates = http.objects(data.get("candidates"))
    candidate = candidates[0] if candidates else {}
    text = "".join(
        part["text"]
        for part in http.objects(http.mapping(candidate.get("content")).get("parts"))
        if isinstance(part.get("text"), str) and not part.get("thought")
    )
    finish_reason = candidate.get("finishReason")
    if finish_reason in BLOCKED_FINISH_REASONS and not text.strip():
        raise http.refusal(f"the reply was blocked (finishReason {finish_reason})")
    usage = http.mapping(data.get("usageMetadata"))
    return Completion(
        text=http.require_text(text),
        input_tokens=http.token_count(usage.get("promptTokenCount")),
        # Thinking tokens are billed as output, like OpenAI's and Anthropic's output counts.
        output_tokens=http.token_count(usage.get("candidatesTokenCount"))
        + http.token_count(usage.get("thoughtsTokenCount")),
        model_version=http.model_name(data.get("modelVersion")) or target.model,
    )

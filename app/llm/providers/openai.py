"""OpenAI chat completions, also spoken by xAI, DeepSeek, Mistral, OpenRouter, Ollama, vLLM and
llama.cpp: `POST {base_url}/chat/completions`."""

from __future__ import annotations

from typing import Any

from app.llm.providers import http
from app.llm.providers.base import ChatRequest, Completion, Target


class OpenAIAdapter:
    """OpenAI and every OpenAI-compatible server."""

    async def complete(self, request: ChatRequest) -> Completion:
        target = request.target
        data = await http.post_json(
            target,
            f"{target.base_url}/chat/completions",
            headers=request_headers(target),
            body=request_body(request),
        )
        return parse_completion(data)


def request_headers(target: Target) -> dict[str, str]:
    # A local server (Ollama, vLLM, llama.cpp) may need no key at all.
    return {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}


def request_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.target.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


def parse_completion(data: dict[str, Any]) -> Completion:
    choices = http.objects(data.get("choices"))
    choice = choices[0] if choices else {}
    message = http.mapping(choice.get("message"))
    if choice.get("finish_reason") == "content_filter":
        raise http.refusal("blocked by the content filter (finish_reason content_filter)")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        raise http.refusal(f"the model refused: {refusal}")
    content = message.get("content")
    text = http.require_text(content if isinstance(content, str) else "")
    usage = http.mapping(data.get("usage"))
    return Completion(
        text=text,
        input_tokens=http.token_count(usage.get("prompt_tokens")),
        output_tokens=http.token_count(usage.get("completion_tokens")),
        model_version=http.model_name(data.get("model")),
    )

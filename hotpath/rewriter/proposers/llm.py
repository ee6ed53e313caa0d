"""A proposer that asks a language model for a rewritten function, over OpenAI's chat-completions API.

Configured by ``Config.llm_url`` (or ``$HOTPATH_LLM_URL``): the base URL of any server speaking
``POST /v1/chat/completions`` (llama.cpp's server, vLLM, Ollama, a hosted API), with
``Config.llm_model`` / ``$HOTPATH_LLM_MODEL`` as the model name and ``$HOTPATH_LLM_API_KEY``
sent as a bearer token when set. Without a URL the proposer does not exist, silently.

The model is asked for the same function, same name and parameters, faster (NumPy or a
``@numba.njit`` function it decorates itself). Its answer becomes one candidate, ``llm``: a
module holding the original's imports, injected values and helpers, then the model's code as
written, run by ``hotpath.rewriter.proposers.module_backend``. That candidate is never trusted: it
goes through the same sandbox, differential checks and timing as every rule-based candidate.
A server that is down, slow or answers nonsense is a ``Skipped`` with the reason.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotpath.config import Config
from hotpath.kernels import Candidate, Skipped
from hotpath.kernels.artifacts import pickle_namespace, write_module
from hotpath.rewriter.proposers import module_backend
from hotpath.rewriter.source import FunctionSource, import_lines, injected_values, module_imports
from hotpath.signature import Signature
from hotpath.syntax import parse_module

log = logging.getLogger(__name__)

NAME = "llm"
SYSTEM_PROMPT = (
    "You rewrite numeric Python functions to run faster. Keep the function's name, parameters and "
    "observable behaviour exactly: the same return values (dtype and shape too), the same in-place "
    "changes to arguments, the same exceptions. You may use NumPy, and Numba by decorating the function "
    "with @numba.njit (import numba yourself). Reply with exactly one ```python code block holding the "
    "complete function and any imports it needs, and nothing else."
)
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


class LLMUnavailable(Exception):
    """The server could not be asked, or its answer holds no usable function; ``str`` says why."""


def endpoint(url: str) -> str:
    """The chat-completions URL for a base URL given with or without the ``/v1`` part."""
    base = url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def user_prompt(fs: FunctionSource, signature: Signature) -> str:
    """The request: the function and its helpers, and the argument types it is called with."""
    helpers = "\n\n".join(part.source for part in list(fs.walk())[1:])
    imports = "\n".join(import_lines(module_imports(fs)))
    parts = [f"Rewrite `{fs.name}` to run faster. It is called with arguments of types {signature}.",
             f"```python\n{imports}\n\n{fs.source}```"]
    if helpers:
        parts.append(f"It calls these helpers (you may inline them):\n```python\n{helpers}```")
    return "\n\n".join(parts)


def extract_code(content: str) -> str:
    """The first fenced code block of a reply, or the whole reply when it has no fence."""
    match = _FENCE.search(content)
    return (match.group(1) if match else content).strip() + "\n"


def _entry(code: str, wanted: str) -> str:
    try:
        tree = parse_module(code)
    except SyntaxError as exc:
        raise LLMUnavailable(f"the model's code does not parse: {exc.msg} (line {exc.lineno})") from None
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if wanted in defs:
        return wanted
    if len(defs) == 1:
        return defs[0]
    raise LLMUnavailable(f"the model's code defines no function {wanted!r} (found: {', '.join(defs) or 'none'})")


@dataclass(frozen=True)
class LLMProposer:
    """Asks one OpenAI-compatible server for one rewritten function per tuning run."""

    url: str
    model: str = "default"
    timeout_s: float = 120.0
    api_key: str | None = None
    name: str = NAME

    @classmethod
    def from_config(cls, config: Config) -> LLMProposer | None:
        """The proposer ``config`` (or the environment) asks for, or ``None`` without a URL."""
        url = config.llm_url or os.environ.get("HOTPATH_LLM_URL", "").strip()
        if not url:
            return None
        model = config.llm_model or os.environ.get("HOTPATH_LLM_MODEL", "").strip() or "default"
        return cls(url, model, config.llm_timeout_s, os.environ.get("HOTPATH_LLM_API_KEY") or None)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """One chat completion: the assistant message's content."""
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0.0}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(endpoint(self.url), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                reply: Any = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise LLMUnavailable(f"{endpoint(self.url)} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
            reason = getattr(exc, "reason", exc)
            raise LLMUnavailable(f"{endpoint(self.url)} could not be reached: {reason}") from None
        except ValueError as exc:
            raise LLMUnavailable(f"{endpoint(self.url)} did not answer JSON: {exc}") from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable(f"the reply has no choices[0].message.content: {str(reply)[:300]}") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMUnavailable("the model's reply is empty")
        return content

    def propose(self, fs: FunctionSource, signature: Signature, config: Config,
                kernels_dir: Path) -> list[Candidate | Skipped]:
        try:
            content = self.complete([{"role": "system", "content": SYSTEM_PROMPT},
                                     {"role": "user", "content": user_prompt(fs, signature)}])
            code = extract_code(content)
            entry = _entry(code, fs.name)
        except LLMUnavailable as exc:
            log.info("the LLM proposer has no candidate for %s: %s", fs.qualname, exc)
            return [Skipped(module_backend.NAME, self.name, str(exc))]
        namespace = pickle_namespace(injected_values(fs))
        # The original's imports and helpers first, so code that calls them still resolves; the
        # model's definitions come last and win where it redefined a helper.
        lines = [f"# hotpath candidate {self.name!r} for {fs.module}.{fs.qualname}: written by the language "
                 f"model {self.model!r} at {self.url}", "# Unverified until hotpath's checks pass; run as written."]
        lines += import_lines(module_imports(fs))
        lines += [part.source for part in list(fs.walk())[1:]]
        lines += ["", code]
        source = "\n".join(lines)
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", self.name, source, namespace)
        return [Candidate(module_backend.NAME, self.name, (("model", self.model),), source, entry, path, namespace,
                          (f"proposed by the language model {self.model!r} at {self.url}",))]

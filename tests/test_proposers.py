"""Proposers: plug-ins whose code is wrong, raises or never returns, and the LLM proposer.

Nothing a proposer writes is trusted: these tests run real candidates through the real sandbox
and check that only a variant shown equal to the original is ever installed. The LLM proposer
is tested against a real HTTP server, started here, that speaks OpenAI's chat-completions API.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import hotpath
from hotpath.kernels import Candidate, Skipped
from hotpath.kernels.artifacts import pickle_namespace, write_module
from hotpath.rewriter.proposers import llm, module_backend, propose_all
from hotpath.rewriter.source import extract
from hotpath.signature import signature_of


def weighted_sum(a, w):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * w[i]
    return total


def _args():
    rng = np.random.default_rng(7)
    return rng.random(2000), rng.random(2000)


class CodeProposer:
    """A plug-in proposer that emits one fixed module; stands in for any proposer's bad output."""

    def __init__(self, name: str, code: str) -> None:
        self.name = name
        self.code = code

    def propose(self, fs, signature, config, kernels_dir: Path):
        source = f"import numpy as np\n\n{self.code}\n"
        namespace = pickle_namespace({})
        path = write_module(kernels_dir, f"{fs.module}.{fs.qualname}", self.name, source, namespace)
        return [Candidate(module_backend.NAME, self.name, (), source, fs.name, path, namespace)]


WRONG = CodeProposer("wrong", "def weighted_sum(a, w):\n    return float(np.dot(a, w)) + 1e-3\n")
RAISES = CodeProposer("raises", "def weighted_sum(a, w):\n    raise RuntimeError('proposer bug')\n")
HANGS = CodeProposer("hangs", "def weighted_sum(a, w):\n    while True:\n        pass\n")
BROKEN = CodeProposer("broken", "def weighted_sum(a, w)\n    return 0.0\n")  # a syntax error


class FailingProposer:
    name = "failing"

    def propose(self, fs, signature, config, kernels_dir):
        raise ValueError("this proposer has a bug")


FAILING = FailingProposer()


@pytest.mark.slow
def test_no_unverified_candidate_is_installed(fast):
    """Wrong, raising, never-returning and unparsable code: each is a failed trial, never the winner."""
    config = fast.replace(proposers=("tests.test_proposers:WRONG", "tests.test_proposers:RAISES",
                                     "tests.test_proposers:HANGS", "tests.test_proposers:BROKEN",
                                     "tests.test_proposers:FAILING"),
                          compile_timeout_s=2.0, timing_budget_s=0.2, cost_model=True)
    a, w = _args()
    result = hotpath.tune(weighted_sum, a, w, config=config)
    by_name = {t.name: t for t in result.trials}
    assert by_name["wrong"].status == "incorrect" and "captured" in by_name["wrong"].reason, result.summary()
    assert by_name["raises"].status in ("failed", "incorrect")
    assert "RuntimeError" in by_name["raises"].reason
    assert by_name["hangs"].status == "failed" and by_name["hangs"].failure.kind == "timeout"
    assert by_name["broken"].status == "failed" and "SyntaxError" in by_name["broken"].reason
    assert by_name["failing"].status == "skipped" and "this proposer has a bug" in by_name["failing"].reason
    # The search may order and stop, but it never prunes what it cannot judge: every plug-in ran.
    assert all(by_name[n].status != "skipped" for n in ("wrong", "raises", "hangs", "broken"))
    assert result.winner is None or result.winner.name.startswith("numba")
    assert result.optimized(a, w) == pytest.approx(weighted_sum(a, w), rel=1e-9)


def test_unknown_proposer_plugin_is_refused_early():
    with pytest.raises(hotpath.ConfigError):
        hotpath.Config(proposers=("no_colon",))


def test_unloadable_plugin_costs_a_skip_not_the_run(fast, tmp_path):
    config = fast.replace(proposers=("tests.no_such_module:X",))
    fs = extract(weighted_sum)
    proposals = propose_all(fs, signature_of(_args()), config, tmp_path)
    assert any(isinstance(p, Skipped) and "tests.no_such_module" in p.reason for p in proposals)
    assert any(isinstance(p, Candidate) and p.name == "numba" for p in proposals)


# --- the LLM proposer against a local chat-completions server -----------------------------------------

class ChatServer:
    """A real HTTP server answering POST /v1/chat/completions as OpenAI's API defines it."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body,
                                        "content_type": self.headers["Content-Type"]})
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                answer = json.dumps({
                    "id": "chatcmpl-test-1", "object": "chat.completion", "created": 1700000000,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": server.reply},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


GOOD_REPLY = """Here is a faster version:

```python
import numba

@numba.njit(cache=True)
def weighted_sum(a, w):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * w[i]
    return total
```
"""

WRONG_REPLY = """```python
def weighted_sum(a, w):
    return float((a * w)[1:].sum())
```"""


@pytest.mark.slow
def test_llm_candidate_is_verified_and_can_win(fast):
    a, w = _args()
    with ChatServer(GOOD_REPLY) as server:
        result = hotpath.tune(weighted_sum, a, w, config=fast.replace(llm_url=server.url, llm_model="coder-7b"))
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["content_type"] == "application/json"
    assert request["body"]["model"] == "coder-7b"
    assert [m["role"] for m in request["body"]["messages"]] == ["system", "user"]
    assert "def weighted_sum" in request["body"]["messages"][1]["content"]
    # The LLM's code returns a Python float where the original gives np.float64 (and 0.0 on an
    # empty array, where the original's loop never ran): verified behind a cast and a size guard.
    trial = next(t for t in result.trials if t.name.startswith("llm") and t.status in ("won", "correct"))
    assert trial.backend == module_backend.NAME
    assert "@numba.njit" in trial.candidate.source and trial.candidate.path.exists()
    assert result.winner is not None


@pytest.mark.slow
def test_llm_wrong_code_is_caught(fast):
    a, w = _args()
    with ChatServer(WRONG_REPLY) as server:
        result = hotpath.tune(weighted_sum, a, w, config=fast.replace(llm_url=server.url))
    trial = next(t for t in result.trials if t.name == "llm")
    assert trial.status == "incorrect"
    assert result.winner is None or result.winner.name != "llm"


def test_llm_unreachable_or_nonsense_is_a_skip(tmp_path):
    fs, signature = extract(weighted_sum), signature_of(_args())
    with ChatServer("I cannot help with that.") as server:
        url = server.url
        proposer = llm.LLMProposer(server.url, timeout_s=5.0)
        (prose,) = proposer.propose(fs, signature, hotpath.Config(), tmp_path)
        server.reply = "```python\nresult = 42\n```"
        (no_function,) = proposer.propose(fs, signature, hotpath.Config(), tmp_path)
    assert isinstance(prose, Skipped) and "does not parse" in prose.reason
    assert isinstance(no_function, Skipped) and "no function 'weighted_sum'" in no_function.reason
    (down,) = llm.LLMProposer(url, timeout_s=2.0).propose(fs, signature, hotpath.Config(), tmp_path)
    assert isinstance(down, Skipped) and "could not be reached" in down.reason


def test_llm_is_absent_without_a_url(monkeypatch, tmp_path):
    monkeypatch.delenv("HOTPATH_LLM_URL", raising=False)
    proposals = propose_all(extract(weighted_sum), signature_of(_args()), hotpath.Config(backends=("numba",)), tmp_path)
    assert all(p.name != "llm" for p in proposals)
    monkeypatch.setenv("HOTPATH_LLM_URL", "http://127.0.0.1:9")
    assert llm.LLMProposer.from_config(hotpath.Config()).url == "http://127.0.0.1:9"


def test_endpoint_and_code_extraction():
    assert llm.endpoint("http://h:8080") == "http://h:8080/v1/chat/completions"
    assert llm.endpoint("http://h:8080/v1/") == "http://h:8080/v1/chat/completions"
    assert llm.extract_code(GOOD_REPLY).startswith("import numba")
    assert llm.extract_code("def f():\n    return 1") == "def f():\n    return 1\n"

"""SRV025 tgi-token-limits-inconsistent."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.server_parallelism import int_flag
from kubernai.model.server_release import Version, tgi_release
from kubernai.model.servers import TGI, ServerArgs
from kubernai.rules.base import Finding, Rule, Severity

_INPUT = ("--max-input-tokens", "--max-input-length")
_INPUT_TOKENS_RELEASE = (2, 0, 0)
_CHUNKING_RELEASE = (3, 0, 0)


class TgiTokenLimitsInconsistent(Rule):
    """TGI token limits that the launcher or router rejects at startup.

    ## Mechanism
    TGI checks its token limits before it serves (flags, or the env vars of
    the same name: `MAX_INPUT_TOKENS`, `MAX_TOTAL_TOKENS`, ...) and exits on
    the first violation:

    - `max_input_tokens` must be below `max_total_tokens`:
      `` `max_input_tokens`(4096) must be < `max_total_tokens`(4096) ``;
    - `max_total_tokens` and `max_batch_prefill_tokens` must not exceed
      `max_batch_total_tokens`: `` `max_total_tokens` must be <=
      `max_batch_total_tokens`. Given: ... ``;
    - `--max-input-tokens` and its old name `--max-input-length` cannot both be
      set: `` Both `max_input_tokens` (...) and `max_input_length` (...) are
      set. ``;
    - without prefill chunking, a prefill batch must fit one prompt:
      `` `max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: 2048
      and 4096 ``. Chunking is on by default from TGI 3.0, so this one is
      reported only for image tags below 3.0 or with `PREFILL_CHUNKING=0`.

    The launcher exits with `Error: ArgumentValidation(...)` and the pod
    restarts in a loop.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:2.0.4
              env:
                - {name: MODEL_ID, value: mistralai/Mistral-7B-Instruct-v0.3}
                - {name: MAX_INPUT_TOKENS, value: "8192"}
                - {name: MAX_TOTAL_TOKENS, value: "8192"}
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:2.0.4
              env:
                - {name: MODEL_ID, value: mistralai/Mistral-7B-Instruct-v0.3}
                - {name: MAX_INPUT_TOKENS, value: "8191"}
                - {name: MAX_TOTAL_TOKENS, value: "8192"}
                - {name: MAX_BATCH_PREFILL_TOKENS, value: "8242"}
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - huggingface/text-generation-inference `launcher/src/main.rs` (argument
      validation in `main`)
    - huggingface/text-generation-inference `backends/v3/src/main.rs` (router
      checks; `!support_chunking`)
    - huggingface/text-generation-inference
      `server/text_generation_server/models/globals.py` (`PREFILL_CHUNKING`
      default "1" from v3.0.0, "0" in v2.4)
    - huggingface/text-generation-inference `docs/source/reference/launcher.md`
    """

    code = "SRV025"
    name = "tgi-token-limits-inconsistent"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind != TGI:
                    continue
                problem = _problem(server)
                if problem is not None:
                    message, path = problem
                    yield self.finding(
                        resource, f"{server.container.label}: {message}", path=path
                    )


def _problem(server: ServerArgs) -> tuple[str, Path] | None:
    release = tgi_release(server.container)
    names: tuple[str, ...] = _INPUT
    if release is not None and release < _INPUT_TOKENS_RELEASE:
        names = ("--max-input-length",)  # MAX_INPUT_TOKENS is not read before 2.0
    elif all(server.has(name) for name in _INPUT):
        tokens, length = (int_flag(server, name) for name in _INPUT)
        return (
            f"both max_input_tokens ({tokens}) and the deprecated "
            f"max_input_length ({length}) are set",
            server.path_of("--max-input-length"),
        )
    max_input = int_flag(server, *names)
    written = next((n for n in names if server.has(n)), names[0])
    input_name = written.lstrip("-").replace("-", "_")
    total = int_flag(server, "--max-total-tokens")
    prefill = int_flag(server, "--max-batch-prefill-tokens")
    batch_total = int_flag(server, "--max-batch-total-tokens")
    if max_input is not None and total is not None and max_input >= total:
        return (
            f"{input_name} {max_input} must be < max_total_tokens {total}",
            server.path_of(*names),
        )
    if total is not None and batch_total is not None and total > batch_total:
        return (
            f"max_total_tokens {total} must be <= max_batch_total_tokens {batch_total}",
            server.path_of("--max-total-tokens"),
        )
    if prefill is not None and batch_total is not None and prefill > batch_total:
        return (
            f"max_batch_prefill_tokens {prefill} must be <= max_batch_total_tokens "
            f"{batch_total}",
            server.path_of("--max-batch-prefill-tokens"),
        )
    if (
        max_input is not None
        and prefill is not None
        and prefill < max_input
        and not _chunking(server, release)
    ):
        return (
            f"max_batch_prefill_tokens {prefill} must be >= {input_name} "
            f"{max_input} without prefill chunking",
            server.path_of("--max-batch-prefill-tokens"),
        )
    return None


def _chunking(server: ServerArgs, release: Version | None) -> bool:
    """Whether prefill chunking may be on: ``PREFILL_CHUNKING`` or TGI >= 3.0."""
    setting = server.env.get("PREFILL_CHUNKING")
    if setting is not None:
        return setting.strip().lower() in ("1", "true")
    return release is None or release >= _CHUNKING_RELEASE

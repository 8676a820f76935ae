"""Parsed server command lines, computed once per template or container.

Thin accessors over the memoised parsing of :mod:`kubernai.model.servers`.
"""

from __future__ import annotations

from kubernai.model.servers import ServerArgs, Token, command_tokens, servers
from kubernai.model.workload import Container, PodTemplate, memoised


def template_servers(template: PodTemplate) -> tuple[ServerArgs, ...]:
    """``servers(template)``, parsed once per template."""
    return memoised(template, "servers", lambda: tuple(servers(template)))


def container_tokens(container: Container) -> tuple[Token, ...]:
    """``command_tokens(container)``, split once per container."""
    return memoised(container, "token_tuple", lambda: tuple(command_tokens(container)))

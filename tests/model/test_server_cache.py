from __future__ import annotations

from kubernai.model.resource import Resource, Source
from kubernai.model.server_cache import container_tokens, template_servers


def template(args: list[str]):
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"image": "vllm/vllm-openai", "args": args}]},
    }
    (found,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    return found


def test_same_template_is_parsed_once():
    first = template(["--tensor-parallel-size", "2"])
    assert template_servers(first) is template_servers(first)
    (server,) = template_servers(first)
    assert server.get("--tensor-parallel-size") == "2"


def test_other_templates_get_their_own_servers():
    seen = [template(["--port", str(8000 + i)]) for i in range(100)]
    ports = [template_servers(t)[0].get("--port") for t in seen]
    assert ports == [str(8000 + i) for i in range(100)]
    assert template_servers(seen[0])[0].get("--port") == "8000"


def test_container_tokens_are_split_once():
    (container,) = template(["--a", "1"]).containers
    assert container_tokens(container) is container_tokens(container)
    assert [t.text for t in container_tokens(container)] == ["--a", "1"]

"""Model and GPU catalogs (``data/models.json``, ``data/gpus.json``) and HF configs.

A model is named by its Hugging Face id (case-insensitive, aliases included),
or given as a path to a ``config.json``, so that any model works offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kubernai.errors import InputError


@dataclass(frozen=True, slots=True)
class ModelArch:
    """What the KV cache and weights arithmetic needs to know about a model."""

    id: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    max_position_embeddings: int
    params: int
    attention: str = "gqa"
    """``gqa`` (MHA and MQA included) or ``mla``."""
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    sliding_window: int = 0
    sliding_layers: tuple[bool, ...] = ()
    """Per layer, whether it is a sliding-window layer (empty: none is)."""
    intermediate: int = 0
    dtype: str = "bfloat16"
    weights_bytes_per_param: float = 0.0
    """Set for checkpoints whose weights are not one dtype (MXFP4 MoE)."""
    source: str = ""

    @property
    def head_size(self) -> int:
        """VLLM's head size: ``kv_lora_rank + qk_rope_head_dim`` for MLA."""
        if self.attention == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return self.head_dim


@dataclass(frozen=True, slots=True)
class Gpu:
    """A GPU as the driver reports it."""

    id: str
    name: str
    product: str
    memory_mib: int
    compute_capability: str
    bf16: bool
    fp8: bool
    bandwidth_gbps: int = 0


def _read(name: str) -> Any:
    text = resources.files("kubernai").joinpath(f"data/{name}").read_text("utf-8")
    return json.loads(text)


def _pattern(kind: str, layers: int) -> tuple[bool, ...]:
    if kind == "alternate-sliding-first":
        return tuple(i % 2 == 0 for i in range(layers))
    if kind == "all-sliding":
        return (True,) * layers
    return ()


def _model(item: dict[str, Any]) -> ModelArch:
    return ModelArch(
        id=item["id"],
        layers=item["layers"],
        hidden=item["hidden"],
        heads=item["heads"],
        kv_heads=item["kv_heads"],
        head_dim=item["head_dim"],
        vocab=item["vocab"],
        max_position_embeddings=item["max_position_embeddings"],
        params=item["params"],
        attention=item.get("attention", "gqa"),
        kv_lora_rank=item.get("kv_lora_rank", 0),
        qk_rope_head_dim=item.get("qk_rope_head_dim", 0),
        sliding_window=item.get("sliding_window", 0),
        sliding_layers=_pattern(item.get("layer_pattern", ""), item["layers"]),
        intermediate=item.get("intermediate", 0),
        dtype=item.get("dtype", "bfloat16"),
        weights_bytes_per_param=item.get("weights_bytes_per_param", 0.0),
        source=item.get("source", ""),
    )


@cache
def models() -> dict[str, ModelArch]:
    """Every catalog model by lower-cased id and alias."""
    found: dict[str, ModelArch] = {}
    for item in _read("models.json")["models"]:
        model = _model(item)
        for key in (item["id"], *item.get("aliases", ())):
            found[key.lower()] = model
    return found


@cache
def gpus() -> dict[str, Gpu]:
    """Every catalog GPU by lower-cased id, alias, name and product string."""
    found: dict[str, Gpu] = {}
    for item in _read("gpus.json")["gpus"]:
        gpu = Gpu(
            id=item["id"],
            name=item["name"],
            product=item["product"],
            memory_mib=item["memory_mib"],
            compute_capability=item["compute_capability"],
            bf16=item["bf16"],
            fp8=item["fp8"],
            bandwidth_gbps=item.get("bandwidth_gbps", 0),
        )
        for key in (
            item["id"],
            item["name"],
            item["product"],
            *item.get("aliases", ()),
        ):
            found[key.lower()] = gpu
    return found


def find_gpu(name: str) -> Gpu | None:
    """A GPU by catalog id, alias, nvidia-smi name or GFD product string."""
    return gpus().get(name.strip().lower())


def find_model(name: str) -> ModelArch | None:
    """A catalog model by Hugging Face id or alias (case-insensitive)."""
    return models().get(name.strip().lower())


def load_model(name_or_path: str) -> ModelArch:
    """A catalog model, or the model described by a ``config.json`` path."""
    found = find_model(name_or_path)
    if found is not None:
        return found
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return model_from_config(path)
    known = ", ".join(sorted({m.id for m in models().values()}))
    raise InputError(
        f"unknown model {name_or_path!r}: give a path to its config.json or one "
        f"of: {known}"
    )


def _int(config: dict[str, Any], *keys: str, default: int | None = None) -> int:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if default is None:
        raise KeyError(keys[0])
    return default


_MLA_TYPES = {"deepseek_v2", "deepseek_v3", "deepseek_v32", "deepseek_mtp", "kimi_k2"}


def model_from_config(path: Path) -> ModelArch:
    """Read a Hugging Face ``config.json`` (text models; the fields vLLM reads)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read a model config: {exc}") from exc
    if not isinstance(config, dict):
        raise InputError(f"{path}: a model config is a JSON object")
    if isinstance(config.get("text_config"), dict):
        config = {**config, **config["text_config"]}
    try:
        layers = _int(config, "num_hidden_layers", "n_layer", "num_layers")
        hidden = _int(config, "hidden_size", "n_embd", "d_model")
        heads = _int(config, "num_attention_heads", "n_head")
    except KeyError as exc:
        raise InputError(f"{path}: config.json has no {exc.args[0]}") from None
    kv_heads = _int(
        config,
        "num_key_value_heads",
        "n_head_kv",
        "num_kv_heads",
        "multi_query_group_num",
        default=heads,
    )
    head_dim = _int(config, "head_dim", default=hidden // heads)
    vocab = _int(config, "vocab_size", default=0)
    intermediate = _int(config, "intermediate_size", default=4 * hidden)
    mla = config.get("model_type") in _MLA_TYPES and "kv_lora_rank" in config
    window = config.get("sliding_window")
    types = config.get("layer_types")
    sliding: tuple[bool, ...] = ()
    if isinstance(types, list) and len(types) == layers:
        sliding = tuple(t == "sliding_attention" for t in types)
    elif (
        isinstance(window, int)
        and window > 0
        and config.get("model_type")
        in (
            "gemma2",
            "gemma3_text",
        )
    ):
        sliding = tuple(i % 2 == 0 for i in range(layers))
    elif (
        isinstance(window, int)
        and window > 0
        and config.get("use_sliding_window") is not False
    ):
        sliding = (True,) * layers
    if not any(sliding):
        sliding = ()
    tied = bool(config.get("tie_word_embeddings", False))
    params = _estimate_params(
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        intermediate=intermediate,
        experts=_int(
            config, "num_local_experts", "n_routed_experts", "num_experts", default=1
        ),
        tied=tied,
    )
    dtype = config.get("torch_dtype") or config.get("dtype") or "bfloat16"
    return ModelArch(
        id=str(config.get("_name_or_path") or path.parent.name or path.name),
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=1 if mla else kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        max_position_embeddings=_int(config, "max_position_embeddings", default=0),
        params=params,
        attention="mla" if mla else "gqa",
        kv_lora_rank=_int(config, "kv_lora_rank", default=0),
        qk_rope_head_dim=_int(config, "qk_rope_head_dim", default=0),
        sliding_window=window if isinstance(window, int) and sliding else 0,
        sliding_layers=sliding,
        intermediate=intermediate,
        dtype=str(dtype),
        source=f"{path} (parameters estimated from the architecture)",
    )


def _estimate_params(
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    intermediate: int,
    experts: int,
    tied: bool,
) -> int:
    """Parameters of a gated-MLP decoder: embeddings, attention, MLP (x experts)."""
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    mlp = 3 * hidden * intermediate * max(1, experts)
    embeddings = vocab * hidden * (1 if tied else 2)
    return embeddings + layers * (attention + mlp + 2 * hidden) + hidden

"""The tensor record the estimate is built from, the parts it is grouped into, and the required-field check."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_llm.errors import BadModelConfig

# parts of bytes_by_part
EMBEDDINGS, ATTENTION, LINEAR_ATTENTION, MLP, SHARED, ROUTER, EXPERTS, NORMS, VISION, LM_HEAD, MTP = (
    "embeddings", "attention", "linear_attention", "mlp", "shared_experts", "router", "experts", "norms",
    "vision", "lm_head", "mtp")


@dataclass(frozen=True, slots=True)
class T:
    """One tensor (or ``count`` identical ones): a matmul weight of rows x cols, or a vector of rows x 1."""

    name: str                # HF-style module path; "{i}" = layer index (experts use index 0 as representative)
    part: str
    rows: int
    cols: int = 1
    count: int = 1
    linear: bool = False     # a quantizable matmul weight
    expert: bool = False     # routed expert (mxfp4 quantizes only these)
    fp32: bool = False       # stored in float32 whatever the model dtype (e_score_correction_bias, A_log ...)

    @property
    def params(self) -> int:
        return self.rows * self.cols * self.count


def lin(name: str, part: str, rows: int, cols: int, count: int = 1, expert: bool = False) -> T:
    return T(name, part, rows, cols, count, linear=True, expert=expert)


def vec(name: str, part: str, n: int, count: int = 1, fp32: bool = False) -> T:
    return T(name, part, n, 1, count, fp32=fp32)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def need(value: int | None, name: str, where: str = "") -> int:
    """A field the layout being built cannot do without."""
    if value is None:
        raise BadModelConfig(f"config.json has no {where}{name!r}; cannot estimate the weights",
                             f"add {name!r} to config.json, or provide model.safetensors.index.json")
    return value


def opt(value: int | None, default: int) -> int:
    return default if value is None else value

"""The family table of ARCHITECTURE.md, generated from data/recipes.yaml (``python -m kubectl_llm.planner.families_table``).

tests/test_parsers.py fails when the table in ARCHITECTURE.md drifts from the data. Pure.
"""

from __future__ import annotations

from typing import Any, Mapping

from kubectl_llm.planner import engine as eng

BEGIN = "<!-- families-table:begin (generated: python -m kubectl_llm.planner.families_table) -->"
END = "<!-- families-table:end -->"


def _match(fam: Mapping[str, Any]) -> str:
    alts = fam.get("match") or {}
    out = []
    for m in alts if isinstance(alts, list) else [alts]:
        what = ", ".join(m.get("architectures", []) + [f"type {t}" for t in m.get("model_types", [])])
        if m.get("id_contains"):
            what += " + id " + " / ".join(m["id_contains"])
        out.append(what)
    return "; ".join(out)


def _image(fam: Mapping[str, Any], engine: str) -> str:
    mv = {k: str(v) for k, v in (fam.get("min_version") or {}).items()}
    recipe = eng.Recipe(key=fam["key"], tool_call_parser=fam.get("tool_call_parser"),
                        reasoning_parser=fam.get("reasoning_parser"), min_version=mv)
    return eng.engine_image(recipe, engine)


def _sglang(fam: Mapping[str, Any]) -> str:
    """The family's SGLang release, and the classes it matches whose own release differs (recipes.yaml
    sglang_classes): newer, in none (refused) or served by the Transformers fallback. A family no release is known
    to serve (min_version.sglang none) is refused as a whole."""
    family = str((fam.get("min_version") or {}).get("sglang"))
    alts = fam.get("match") or {}
    classes = sorted({a for m in (alts if isinstance(alts, list) else [alts]) for a in m.get("architectures", ())})
    special = []
    for arch in classes:
        entry = eng.sglang_class(arch)
        first = entry.get("first")
        if first and eng.parse_version(first) > eng.parse_version(family):
            special.append(f"{arch}: {first}")
        elif entry and not first:
            special.append(f"{arch}: {'Transformers fallback' if entry.get('fallback') else 'refused'}")
    if family == eng.SGLANG_NONE:       # no release is known to serve the family: --engine sglang is refused
        family = "none (refused)"
    return family + (f" ({'; '.join(special)})" if special else "")


def table() -> str:
    rows = ["| family | matches | vLLM tool / reasoning parser | SGLang tool / reasoning | min vLLM / SGLang | vLLM image |",
            "|---|---|---|---|---|---|"]
    for fam in eng._data()["families"]:
        sg = eng._sglang_names(fam, fam.get("tool_call_parser"), fam.get("reasoning_parser"), False)
        mv = fam.get("min_version") or {}
        rows.append(f"| {fam['key']} | {_match(fam)} | {fam.get('tool_call_parser') or '-'} / "
                    f"{fam.get('reasoning_parser') or '-'} | {sg.get('tool_call_parser') or '-'} / "
                    f"{sg.get('reasoning_parser') or '-'} | {mv.get('vllm')} / {_sglang(fam)} | "
                    f"`{_image(fam, 'vllm')}` |")
    return "\n".join(rows)


def block() -> str:
    return f"{BEGIN}\n{table()}\n{END}"


if __name__ == "__main__":  # pragma: no cover - a doc helper
    print(block())

"""Golden plans: one checked-in plan document per catalog model and per handbook example (issue 8, item 7).

Any change to a planned number shows up as a diff of ``tests/golden/*.json`` that a reviewer reads. After a
deliberate change (or a merge conflict in these files), regenerate them and commit the diff:

    python -m tests.golden_plans            # rewrite tests/golden/ from the current planner
    python -m tests.golden_plans --check    # exit 1 and list the files that differ (what the test does)

Each file holds ``request`` (the plan flags) and ``plan`` (``Plan.to_dict()``, the ``-o json`` contract) for the
embedded catalog copy of the model, so nothing here depends on the Hub or on ``../shared``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

# The handbook's worked examples (../shared/seed/000_fac1fc4630e002f9.txt), as the flags an admin types.
HANDBOOK_EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "handbook-minimax-m2.5-a100-262144": ("MiniMaxAI/MiniMax-M2.5", {"gpu_type": "A100-80GB", "context": 262144}),
    "handbook-qwen3.5-397b-fp8-h200-1010000": ("Qwen/Qwen3.5-397B-A17B-FP8", {"gpu_type": "H200", "context": 1010000}),
    "handbook-llama-3.1-70b-a40-6gpus": ("meta-llama/Llama-3.1-70B-Instruct", {"gpu_type": "A40", "gpus": 6}),
}


def cases() -> dict[str, tuple[str, dict[str, Any]]]:
    """file stem -> (model id, PlanRequest keyword arguments)."""
    from kubectl_llm import catalog

    out: dict[str, tuple[str, dict[str, Any]]] = {
        "catalog-" + mid.replace("/", "__"): (mid, {}) for mid in catalog.model_ids()}
    out.update(HANDBOOK_EXAMPLES)
    return out


def render(model_id: str, request: dict[str, Any]) -> str:
    from kubectl_llm import catalog
    from kubectl_llm.planner.plan import make_plan
    from kubectl_llm.planner.request import PlanRequest

    source = catalog.load(model_id)
    assert source is not None, model_id
    plan = make_plan(source, PlanRequest(**request))
    doc = {"model": model_id, "request": request, "plan": plan.to_dict()}
    return json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def differences() -> list[str]:
    """Names of golden files that are missing, stale or no longer produced."""
    want = {stem: render(mid, req) for stem, (mid, req) in cases().items()}
    have = {p.stem: p.read_text(encoding="utf-8") for p in GOLDEN_DIR.glob("*.json")}
    return sorted(stem for stem in set(want) | set(have) if want.get(stem) != have.get(stem))


def update() -> list[str]:
    GOLDEN_DIR.mkdir(exist_ok=True)
    changed = []
    want = {stem: render(mid, req) for stem, (mid, req) in cases().items()}
    for path in GOLDEN_DIR.glob("*.json"):
        if path.stem not in want:
            path.unlink()
            changed.append(path.name)
    for stem, text in want.items():
        path = GOLDEN_DIR / f"{stem}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path.name)
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only list the files that differ; exit 1 if any")
    args = ap.parse_args()
    if args.check:
        diff = differences()
        print("\n".join(diff) or "golden plans up to date")
        return 1 if diff else 0
    changed = update()
    print("\n".join(f"updated {c}" for c in changed) or "golden plans up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

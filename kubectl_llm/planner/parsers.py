"""Tool-call and reasoning parsers: the family's recipe, cross-checked against the model's own chat template. Pure.

The handbook: parser problems are "easily over 75% of all previously experienced issues". A wrong
``--tool-call-parser`` starts fine and then returns tool calls as plain text, so the plan says where each parser
comes from and warns whenever it cannot vouch for one:

- the family (recipes.yaml, matched on architecture + id patterns) names the parsers;
- the chat template (``chat_template.jinja`` or ``tokenizer_config.json``'s ``chat_template``, when the Hub or a
  local directory has one) shows the tool-call markup the model was trained to emit. ``detect_tool_format`` reads
  it; a family parser the markup contradicts is replaced by the template's (a warning says so), and a model whose
  family has no tool parser gets the template's;
- a model with neither gets a warning naming where to look, never a silent null.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from kubectl_llm.planner import engine as eng

TOOL_DOCS = "https://docs.vllm.ai/en/latest/features/tool_calling.html"
REASONING_DOCS = "https://docs.vllm.ai/en/latest/features/reasoning_outputs.html"
SGLANG_DOCS = "https://docs.sglang.ai/advanced_features/tool_parser.html"


@dataclass(frozen=True)
class ToolFormat:
    """A tool-call markup found in a chat template: what it is, which vLLM parsers read it, the one to pick."""

    name: str                     # e.g. "hermes <tool_call> JSON"
    parsers: frozenset[str]       # vLLM parsers that read this markup
    parser: str                   # the one the plan passes when the template decides
    marker: str                   # the text that identified it (shown in reasons)


def _fmt(name: str, parser: str, marker: str, *also: str) -> ToolFormat:
    return ToolFormat(name=name, parsers=frozenset((parser, *also)), parser=parser, marker=marker)


# DeepSeek's special tokens use U+FF5C (fullwidth vertical line) and U+2581; accept the ASCII bar too.
_DS = r"<[|\uff5c]tool\u2581calls\u2581begin[|\uff5c]>"
_DS_CALL_V3 = re.compile(r"tool\u2581call\u2581begin[|\uff5c]>'\s*\+\s*tool\['type'\]|```json", re.S)


def detect_tool_format(template: str | None) -> ToolFormat | None:
    """The tool-call markup a chat template teaches, or None when it has none this tool knows.

    Checked most specific first: several formats wrap calls in ``<tool_call>`` (hermes JSON, Qwen3-Coder XML,
    GLM's ``<arg_key>``), so the inner syntax decides."""
    if not template:
        return None
    t = template
    if "<|channel|>" in t and "<|start|>" in t:
        return _fmt("harmony (gpt-oss)", "openai", "<|channel|>")
    if "<|tool_calls_section_begin|>" in t:
        return _fmt("Kimi-K2 sections", "kimi_k2", "<|tool_calls_section_begin|>")
    if "DSML" in t and "function_calls" in t:
        return _fmt("DeepSeek-V3.2 DSML", "deepseek_v32", "<\uff5cDSML\uff5cfunction_calls>")
    if re.search(_DS, t):
        if _DS_CALL_V3.search(t):
            return _fmt("DeepSeek-V3 tool calls (```json blocks)", "deepseek_v3", "<\uff5ctool\u2581calls\u2581begin\uff5c>")
        return _fmt("DeepSeek-V3.1 tool calls (name<tool_sep>arguments)", "deepseek_v31",
                    "<\uff5ctool\u2581calls\u2581begin\uff5c>")
    if "<minimax:tool_call>" in t:
        # minimax_m3 is MiniMax-M3's own parser for its XML calls (its recipe): a template cannot tell M2 from M3
        return _fmt("MiniMax XML", "minimax_m2", "<minimax:tool_call>", "minimax_m3")
    if "<seed:tool_call>" in t:
        return _fmt("Seed-OSS XML", "seed_oss", "<seed:tool_call>")
    if "<arg_key>" in t:
        if re.search(r"</arg_key>\s*\n\s*<arg_value>", t):
            return _fmt("GLM-4.5 <arg_key> XML", "glm45", "<arg_key>", "glm47")
        return _fmt("GLM-4.7 <arg_key> XML (compact)", "glm47", "<arg_key>", "glm45")
    if "<tool_call>" in t and "<function=" in t:
        # one vLLM class reads this XML under qwen3_coder / qwen3_xml / mimo, and step3p5 is SGLang's Qwen3CoderDetector
        # (parser-registries.md): Step-3.5 and MiMo templates confirm their own parser instead of being switched
        return _fmt("Qwen3-Coder XML (<function=...>)", "qwen3_coder", "<tool_call><function=", "qwen3_xml",
                    "step3p5", "mimo")
    if "<tool_call>" in t:
        return _fmt("hermes <tool_call> JSON", "hermes", "<tool_call>", "xlam")
    if "[TOOL_CALLS]" in t:
        return _fmt("Mistral [TOOL_CALLS]", "mistral", "[TOOL_CALLS]")
    if "<|python_start|>" in t:
        return _fmt("Llama 4 (python_start / ipython)", "llama4_pythonic", "<|python_start|>",
                    "llama4_json", "llama3_json", "pythonic")
    if "<|python_tag|>" in t or "Environment: ipython" in t:
        return _fmt("Llama 3.x JSON (ipython)", "llama3_json", "<|python_tag|> / ipython", "llama4_json")
    if "<|action_start|><|plugin|>" in t:
        return _fmt("InternLM2 plugin", "internlm", "<|action_start|><|plugin|>")
    if "<start_function_call>" in t:
        return _fmt("FunctionGemma", "functiongemma", "<start_function_call>")
    if "<|tool_call|>" in t:
        return _fmt("Granite 3.x <|tool_call|>", "granite", "<|tool_call|>")
    if "<|tool_list_start|>" in t:
        # LFM2 / LFM2.5: tools listed between <|tool_list_start|> / <|tool_list_end|>, calls as a Python list inside
        # <|tool_call_start|> ... <|tool_call_end|> (the LFM2.5 recipes: vLLM's lfm2 parser)
        return _fmt("LFM2 pythonic (<|tool_list_start|>)", "lfm2", "<|tool_list_start|>")
    if "<|tools_prefix|>" in t:
        # Apertus: [{"name": {args}}] between <|tools_prefix|> and <|tools_suffix|> (vLLM's apertus parser)
        return _fmt("Apertus <|tools_prefix|> JSON", "apertus", "<|tools_prefix|>")
    return None


def template_from_tokenizer_config(text: str) -> str | None:
    """``chat_template`` of a tokenizer_config.json (a string, or a list of named templates: all are joined)."""
    try:
        cfg = json.loads(text)
    except (ValueError, RecursionError):
        return None
    tpl = cfg.get("chat_template") if isinstance(cfg, dict) else None
    if isinstance(tpl, str):
        return tpl
    if isinstance(tpl, list):
        return "\n".join(str(t.get("template", "")) for t in tpl if isinstance(t, Mapping)) or None
    return None


@dataclass(frozen=True)
class ParserChoice:
    recipe: eng.Recipe                 # the recipe with the parsers the plan passes
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]


def _known(kind: str, name: str) -> bool:
    return name in (eng._data().get("parsers", {}).get(kind) or {})


def _sglang_name(kind: str, name: str) -> str | None:
    entry = (eng._data().get("parsers", {}).get(kind) or {}).get(name) or {}
    return entry.get("sglang")


def _short_source(source: str) -> str:
    """'https://github.com/vllm-project/recipes/blob/<commit>/models/Qwen/Qwen3-32B.yaml' -> 'recipes Qwen/Qwen3-32B'."""
    out = re.sub(r"https://github\.com/vllm-project/recipes/blob/[^/]+/(?:models/)?", "recipes ", source)
    out = re.sub(r"\.ya?ml\b", "", out)
    return out.replace("https://docs.vllm.ai/en/latest/features/tool_calling.html", "vLLM tool-calling docs").replace(
        "https://docs.vllm.ai/en/latest/features/reasoning_outputs.html", "vLLM reasoning docs")


def choose(recipe: eng.Recipe, model_id: str, architecture: str, template: str | None, template_source: str | None,
           engine: str, chat_template_given: bool = False) -> ParserChoice:
    """The parsers a plan passes, with the reasons and warnings that explain them (``chat_template_given``: the
    admin passes a --chat-template of their own with --engine-arg)."""
    reasons: list[str] = []
    warnings: list[str] = []
    fmt = detect_tool_format(template)
    tool = recipe.tool_call_parser
    sglang: dict[str, Any] = dict(recipe.sglang)
    where = template_source or "the chat template"
    origin = "recipe"
    if fmt is not None and not recipe.base:
        if tool and tool in fmt.parsers:
            reasons.append(f"{where} uses {fmt.name} ({fmt.marker}): it confirms the {tool} tool-call parser")
        elif tool:
            warnings.append(f"{where} uses {fmt.name} ({fmt.marker}), not what the {recipe.key} recipe's {tool} "
                            f"parser reads: the plan uses {fmt.parser} (a fine-tune with its own template?); "
                            f"check the model card")
            tool, origin = fmt.parser, "chat template"
            sglang["tool_call_parser"] = _sglang_name("tool", tool)
        elif _known("tool", fmt.parser):
            reasons.append(f"tool-call parser {fmt.parser}: {where} uses {fmt.name} ({fmt.marker})")
            tool, origin = fmt.parser, "chat template"
            sglang["tool_call_parser"] = _sglang_name("tool", tool)
    elif template and tool:
        reasons.append(f"{where} has no tool-call markup this tool recognises: {tool} comes from the "
                       f"{recipe.key} recipe alone")
    reasoning = recipe.reasoning_parser
    if recipe.note:
        warnings.append(recipe.note)
    if tool and origin == "recipe" and recipe.tool_template and not chat_template_given:
        t = recipe.tool_template
        # vllm/vllm-openai images: WORKDIR /vllm-workspace, `COPY examples examples` (vllm-project/vllm
        # docker/Dockerfile, stage vllm-base); other images keep vLLM's examples elsewhere or not at all
        where_in_image = (f"/vllm-workspace/{t['path']}, where vllm/vllm-openai images keep vLLM's examples; check "
                          f"yours" if engine == "vllm" else "the template's path in your image")
        warnings.append(f"tool calling: vLLM's tool-calling docs run the {recipe.key} family's tool-call parser with "
                        f"--chat-template {t['path']} ({t['why']}); the plan passes none (it keeps the model's own "
                        f"template), so a request with tools may get plain text back until that template is used: "
                        f"add it with --engine-arg=--chat-template=<{where_in_image}> (see {TOOL_DOCS})")
    if (tool or reasoning) and engine != "sglang":          # SGLang plans state the SGLang names below
        src = f" ({_short_source(recipe.source)})" if recipe.source else ""
        reasons.append(f"parsers for the {recipe.key} family{src}: tool-call {tool or '-'}"
                       f"{' (from the chat template)' if origin != 'recipe' else ''}, reasoning {reasoning or '-'}")
    if not tool:
        if recipe.no_tool_reason:
            reasons.append(recipe.no_tool_reason)
        elif not recipe.note:
            what = ("no model family this tool knows" if recipe.key == "generic"
                    else f"the {recipe.key} recipe names none")
            warnings.append(f"no tool-call parser for {model_id} ({architecture}: {what}, and "
                            f"{'its chat template shows no known tool-call markup' if template else 'no chat template was available'}): "
                            f"tool calls would come back as plain text. Look at the model card "
                            f"(https://huggingface.co/{model_id}) and "
                            + (f"vLLM's tool-calling docs ({TOOL_DOCS}) for --tool-call-parser, and at "
                               f"{REASONING_DOCS} for --reasoning-parser" if engine != "sglang" else
                               f"SGLang's tool-parser docs ({SGLANG_DOCS}) for --tool-call-parser and "
                               f"--reasoning-parser"))
    if engine == "sglang":          # (a family no SGLang release serves, min_version.sglang none, is refused later)
        for key, kind, name in (("tool_call_parser", "tool", tool), ("reasoning_parser", "reasoning", reasoning)):
            if name and not sglang.get(key):
                warnings.append(f"SGLang has no {kind} parser for {name} ({recipe.key}): the plan passes none "
                                f"(see {SGLANG_DOCS}); --engine vllm has it")
    sglang = {k: v for k, v in sglang.items() if v}
    if engine == "sglang" and sglang:          # the names the SGLang command carries, not vLLM's
        via = " (from the chat template)" if origin != "recipe" else ""
        reasons.append(f"SGLang names for the {recipe.key} family: tool-call "
                       f"{sglang.get('tool_call_parser') or '-'}{via}, reasoning {sglang.get('reasoning_parser') or '-'}")
    chosen = dataclasses.replace(recipe, tool_call_parser=tool, reasoning_parser=reasoning, sglang=sglang)
    version = eng.engine_version(chosen, engine)
    default = eng.parse_version(eng.engine_defaults(engine)["version"])
    if engine == "sglang" and eng.sglang_fallback(recipe):
        warnings.append(eng.sglang_fallback(recipe))
    if version > default:
        why = ((recipe.version_reason if engine == "vllm" else "") or
               ("the first release registering its parsers" if engine == "vllm" else _sglang_version_why(chosen, version)))
        driver = eng.cuda_driver_gt(chosen, engine)
        cuda13 = (f"; that image is a CUDA 13 build, so nodes need an NVIDIA driver above {driver}"
                  if driver > eng.cuda_driver_gt(None, engine) else "")
        reasons.append(f"{engine} {eng.version_text(version)} pinned (image {eng.engine_image(chosen, engine)}) instead "
                       f"of the default {eng.version_text(default)}: {why}{cuda13}")
    return ParserChoice(recipe=chosen, reasons=tuple(reasons), warnings=tuple(warnings))


def _sglang_version_why(recipe: eng.Recipe, version: tuple[int, ...]) -> str:
    """Why an SGLang plan pins ``version``: its checkpoint class (recipes.yaml sglang_classes) or its family."""
    family = eng.parse_version(recipe.min_version.get("sglang") or "")
    for key, kind in (("tool_call_parser", "tool"), ("reasoning_parser", "reasoning")):
        name = recipe.sglang.get(key)
        if name and eng.parser_first_version(kind, name, "sglang") == version and version > family:
            return (f"the first SGLang release registering its {name} {kind} parser (sglang "
                    f"{eng.version_text(version)} on PyPI; recipes.yaml sglang_parsers)")
    if eng.sglang_class_first(recipe.architecture) == version and version > family:
        default = eng.parse_version(eng.engine_defaults("sglang")["version"])
        other = f"; other {recipe.key} checkpoints run on {eng.version_text(max(family, default))}" if family else ""
        return (f"the first SGLang release registering {recipe.architecture} (sglang {eng.version_text(version)} on "
                f"PyPI; recipes.yaml sglang_classes){other}")
    return f"the first SGLang release known to serve the {recipe.key} family (recipes.yaml min_version)"

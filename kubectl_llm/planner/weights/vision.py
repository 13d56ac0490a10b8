"""The vision tower and projector of a multimodal checkpoint (Qwen3-VL / Qwen3.5, SigLIP + Gemma 3 projector,
Llama 4, and a generic ViT estimate for the rest).

A projector size the config omits is estimated from transformers' defaults (or the text hidden size it must
feed) and reported in ``warnings``: it is a small part of the model, not a reason to refuse the estimate.
"""

from __future__ import annotations

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import VisionShapes
from kubectl_llm.planner.weights.tensors import VISION, T, lin, need, opt, vec

_W = "vision_config."


def _guess(value: int | None, name: str, default: int, why: str, warnings: list[str]) -> int:
    if value is not None:
        return value
    warnings.append(f"vision_config has no {name!r}: the weight estimate assumes {default} ({why})")
    return default


def vision_tower(v: VisionShapes, top_type: str, text_hidden: int) -> tuple[list[T], str, list[str]]:
    """(tensors, description, warnings) of the vision tower + projector."""
    vt = v.model_type
    out: list[T] = []
    warnings: list[str] = []
    P = VISION
    if vt.startswith(("qwen3_vl", "qwen3_5")) or (top_type.startswith(("qwen3_vl", "qwen3_5")) and v.depth):
        hs, depth = need(v.hidden_size, "hidden_size", _W), need(v.depth, "depth", _W)
        inter = need(v.intermediate_size, "intermediate_size", _W)
        out_h = _guess(v.out_hidden_size, "out_hidden_size", text_hidden, "the text model's hidden size the "
                       "merger feeds", warnings)
        patch, tps = need(v.patch_size, "patch_size", _W), opt(v.temporal_patch_size, 2)
        inc = opt(v.in_channels, 3)
        sms = opt(v.spatial_merge_size, 2)
        npos = _guess(v.num_position_embeddings, "num_position_embeddings", 2304, "transformers' Qwen3-VL default",
                      warnings)
        merged = hs * sms * sms
        n = "model.visual"
        out += [T(f"{n}.patch_embed.proj", P, hs, inc * tps * patch * patch + 1),
                T(f"{n}.pos_embed", P, npos, hs)]
        blk = f"{n}.blocks.0"
        out += [vec(f"{blk}.norms", P, 4 * hs, depth),
                lin(f"{blk}.attn.qkv", P, 3 * hs, hs + 1, depth), lin(f"{blk}.attn.proj", P, hs, hs + 1, depth),
                lin(f"{blk}.mlp.linear_fc1", P, inter, hs + 1, depth),
                lin(f"{blk}.mlp.linear_fc2", P, hs, inter + 1, depth)]
        deep = v.deepstack_layers
        for k, norm_w in [("merger", hs)] + [(f"deepstack_merger_list.{j}", merged) for j in range(deep)]:
            out += [vec(f"{n}.{k}.norm", P, 2 * norm_w), lin(f"{n}.{k}.linear_fc1", P, merged, merged + 1),
                    lin(f"{n}.{k}.linear_fc2", P, out_h, merged + 1)]
        desc = f"Qwen3-VL vision tower ({depth} blocks x {hs}, {deep} deepstack mergers)"
    elif vt.startswith("siglip"):
        hs, L = need(v.hidden_size, "hidden_size", _W), need(v.num_hidden_layers, "num_hidden_layers", _W)
        inter = need(v.intermediate_size, "intermediate_size", _W)
        patch, img = need(v.patch_size, "patch_size", _W), need(v.image_size, "image_size", _W)
        inc = opt(v.num_channels, 3)
        n = "vision_tower.vision_model"
        blk = f"{n}.encoder.layers.0"
        out += [T(f"{n}.embeddings.patch_embedding", P, hs, inc * patch * patch + 1),
                T(f"{n}.embeddings.position_embedding", P, (img // patch) ** 2, hs),
                vec(f"{blk}.layer_norms", P, 4 * hs, L),
                lin(f"{blk}.self_attn.qkvo", P, 4 * hs, hs + 1, L),
                lin(f"{blk}.mlp.fc1", P, inter, hs + 1, L), lin(f"{blk}.mlp.fc2", P, hs, inter + 1, L),
                vec(f"{n}.post_layernorm", P, 2 * hs)]
        if v.use_head:
            raise BadModelConfig("SigLIP vision_use_head=true is not supported by the config-only estimate")
        if top_type.startswith("gemma3"):
            out += [lin("multi_modal_projector.mm_input_projection", P, hs, text_hidden),
                    vec("multi_modal_projector.mm_soft_emb_norm", P, hs)]
        desc = f"SigLIP vision tower ({L} layers x {hs}) + projector"
    elif vt.startswith("llama4"):
        hs, L = need(v.hidden_size, "hidden_size", _W), need(v.num_hidden_layers, "num_hidden_layers", _W)
        inter = need(v.intermediate_size, "intermediate_size", _W)
        patch, img = need(v.patch_size, "patch_size", _W), need(v.image_size, "image_size", _W)
        inc = opt(v.num_channels, 3)
        ratio = v.pixel_shuffle_ratio if v.pixel_shuffle_ratio is not None else 0.5
        default = "transformers' Llama4VisionConfig default"
        pin = _guess(v.projector_input_dim, "projector_input_dim", 4096, default, warnings)
        pout = _guess(v.projector_output_dim, "projector_output_dim", 4096, default, warnings)
        vout = _guess(v.vision_output_dim, "vision_output_dim", 7680, default, warnings)
        n = "vision_model"
        blk = f"{n}.model.layers.0"
        out += [lin(f"{n}.patch_embedding.linear", P, hs, inc * patch * patch),
                vec(f"{n}.class_embedding", P, hs),
                T(f"{n}.positional_embedding_vlm", P, (img // patch) ** 2 + 1, hs),
                vec(f"{n}.layernorm_pre_post", P, 4 * hs),
                vec(f"{blk}.layernorms", P, 4 * hs, L),
                lin(f"{blk}.self_attn.q_proj", P, 4 * hs, hs + 1, L),    # q/k/v/o with biases
                lin(f"{blk}.mlp.fc1", P, inter, hs + 1, L), lin(f"{blk}.mlp.fc2", P, hs, inter + 1, L),
                lin(f"{n}.vision_adapter.mlp.fc1", P, pin, int(hs / (ratio * ratio))),
                lin(f"{n}.vision_adapter.mlp.fc2", P, pout, pin),
                lin("multi_modal_projector.linear_1", P, text_hidden, vout)]
        desc = f"Llama 4 vision tower ({L} layers x {hs}) + adapter + projector"
    else:
        # generic ViT: layers x (4 hs^2 attention + 2 hs x inter MLP, biases, 2 LayerNorms)
        hs = need(v.hidden_size if v.hidden_size is not None else v.embed_dim, "hidden_size", _W)
        L = need(next((x for x in (v.num_hidden_layers, v.depth, v.num_layers) if x is not None), None),
                 "num_hidden_layers", _W)
        inter = v.intermediate_size or 4 * hs
        n = "vision_tower"
        out += [lin(f"{n}.layers.0.attn", P, 4 * hs, hs + 1, L), lin(f"{n}.layers.0.fc1", P, inter, hs + 1, L),
                lin(f"{n}.layers.0.fc2", P, hs, inter + 1, L), vec(f"{n}.layers.0.norms", P, 4 * hs, L),
                lin("multi_modal_projector", P, text_hidden, hs)]
        desc = f"generic ViT estimate for vision model_type {vt or 'unknown'!r} ({L} layers x {hs})"
    return out, desc, warnings

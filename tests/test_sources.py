"""Model sources: local directories, the Hub (FakeHub + the real library on a temp HF cache), the embedded catalog."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.hub.fake_hub import FakeHub
from fixtures.hub.fake_hub import _response as fake_hub_response
from kubectl_llm import catalog
from kubectl_llm.adapters import list_catalog, load_model
from kubectl_llm.adapters.local import weights_from_counts
from kubectl_llm.catalog import _build
from kubectl_llm.errors import BadModelConfig, GatedModel, HubUnreachable, ModelNotFound, ModelSourceError

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SECRET = "hf_SECRET_never_printed_42"


@pytest.fixture(autouse=True)
def clean_hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the developer's token, offline switch or real HF cache."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HOME", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]], pad: int = 0) -> None:
    """A real safetensors file: u64 LE header length, JSON header, then the (zeroed) tensor bytes.

    ``tensors``: name -> (dtype, shape, bytes per element). ``pad`` trailing spaces after the JSON, as the format
    allows (writers pad to 8-byte alignment).
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape, width) in tensors.items():
        size = width
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode() + b" " * pad
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def model_dir(tmp_path: Path, config: dict[str, Any] | str | None = None, name: str = "model") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config)
        (directory / "config.json").write_text(text)
    return directory


QWEN3_8B = catalog.load_entry("Qwen/Qwen3-8B")["config"]  # type: ignore[index]


# --- local directories --------------------------------------------------------------------------------------------
def test_local_dir_index_total_size(tmp_path: Path) -> None:
    # gpt-oss-20b's real model.safetensors.index.json metadata.total_size (shards not downloaded).
    d = model_dir(tmp_path, QWEN3_8B)
    (d / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {"total_size": 13761264768},
        "weight_map": {"a.weight": "model-00000-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors"},
    }))
    src = load_model(str(d))
    assert src.origin == "local" and src.local_path == str(d.resolve()) and src.model_id == str(d.resolve())
    assert src.config["num_hidden_layers"] == 36
    assert src.weights is not None
    assert src.weights.total_bytes == 13761264768
    assert src.weights.source == "model.safetensors.index.json metadata.total_size"
    assert dict(src.weights.bytes_by_dtype) == {}  # shards absent: no per-dtype breakdown


def test_local_dir_safetensors_headers_exact_sums(tmp_path: Path) -> None:
    d = model_dir(tmp_path, QWEN3_8B)
    write_safetensors(d / "model-00001-of-00002.safetensors", {
        "embed.weight": ("BF16", [4, 3], 2),      # 12 elements * 2 B = 24 B
        "norm.weight": ("F32", [5], 4),           # 5 * 4 = 20 B
        "scale": ("F32", [], 4),                  # scalar: 1 element, 4 B
    }, pad=5)
    write_safetensors(d / "model-00002-of-00002.safetensors", {
        "mlp.weight": ("F8_E4M3", [2, 8], 1),     # 16 * 1 = 16 B
        "mlp.weight_scale_inv": ("F32", [2], 4),  # 2 * 4 = 8 B
        "head.weight": ("BF16", [7], 2),          # 7 * 2 = 14 B
        "experts.blocks": ("U8", [3, 3], 1),      # 9 * 1 = 9 B
    })
    # Mistral repos also ship consolidated.safetensors: the same weights again, which must not be counted twice.
    write_safetensors(d / "consolidated.safetensors", {"embed.weight": ("BF16", [1000], 2)})
    w = load_model(str(d)).weights
    assert w is not None and w.source == "safetensors headers"
    # BF16 24 + 14 = 38; F32 20 + 4 + 8 = 32; F8_E4M3 16; U8 9  -> total 95
    assert dict(w.bytes_by_dtype) == {"BF16": 38, "F32": 32, "F8_E4M3": 16, "U8": 9}
    assert dict(w.params_by_dtype) == {"BF16": 19, "F32": 8, "F8_E4M3": 16, "U8": 9}
    assert w.total_bytes == 95


def test_local_dir_index_with_all_shards_adds_dtype_breakdown(tmp_path: Path) -> None:
    d = model_dir(tmp_path, QWEN3_8B)
    write_safetensors(d / "model-00001-of-00001.safetensors", {"w": ("BF16", [10], 2), "s": ("F32", [3], 4)})
    (d / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {"total_size": 32}, "weight_map": {"w": "model-00001-of-00001.safetensors",
                                                       "s": "model-00001-of-00001.safetensors"}}))
    w = load_model(str(d)).weights
    assert w is not None
    assert w.total_bytes == 32 and w.source.startswith("model.safetensors.index.json")
    assert dict(w.bytes_by_dtype) == {"BF16": 20, "F32": 12}  # 10*2, 3*4


def test_partial_shards_and_no_weights_give_none(tmp_path: Path) -> None:
    partial = model_dir(tmp_path, QWEN3_8B, "partial")
    write_safetensors(partial / "model-00001-of-00003.safetensors", {"w": ("BF16", [10], 2)})
    assert load_model(str(partial)).weights is None  # 1 of 3 shards: summing would under-count
    bare = model_dir(tmp_path, QWEN3_8B, "bare")
    assert load_model(str(bare)).weights is None


def test_config_with_bare_infinity_is_accepted(tmp_path: Path) -> None:
    # Nemotron-H writes "time_step_limit": [0.0, Infinity] (transformers' JSON), which strict parsers reject.
    d = model_dir(tmp_path, '{"model_type": "nemotron_h", "time_step_limit": [0.0, Infinity]}')
    assert load_model(str(d)).config["time_step_limit"] == [0.0, float("inf")]


@pytest.mark.parametrize("config, words", [
    (None, "no config.json"),
    ('{"hidden_size": 4096,', "not valid JSON"),
    ("[1, 2]", "not an object"),
])
def test_missing_or_malformed_config(tmp_path: Path, config: str | None, words: str) -> None:
    d = model_dir(tmp_path, config)
    with pytest.raises(BadModelConfig) as info:
        load_model(str(d))
    assert words in info.value.message and info.value.hint
    assert info.value.exit_code == 3


def test_malformed_safetensors_header(tmp_path: Path) -> None:
    d = model_dir(tmp_path, QWEN3_8B)
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 50) + b"{not json")
    with pytest.raises(BadModelConfig, match="model.safetensors is truncated"):
        load_model(str(d))
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 9) + b"{not json")
    with pytest.raises(BadModelConfig, match="malformed safetensors header"):
        load_model(str(d))


def test_local_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        load_model("./surely-not-here-xyz")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ModelNotFound, match="is a file"):
        load_model(str(f))


def test_bad_ref_is_neither_dir_nor_repo_id() -> None:
    with pytest.raises(ModelNotFound, match="neither a local directory nor a Hugging Face repo id"):
        load_model("a/b/c", offline=True)


# --- dtype arithmetic ---------------------------------------------------------------------------------------------
def test_weights_from_counts_per_dtype() -> None:
    w = weights_from_counts({"F8_E4M3": 1_000_000, "BF16": 2048, "F32": 7813, "F4": 1001}, "x")
    assert w is not None
    # F8 1 B, BF16 2 B, F32 4 B, F4 half a byte rounded up: 1001 * 4 / 8 = 500.5 -> 501
    assert dict(w.bytes_by_dtype) == {"F8_E4M3": 1_000_000, "BF16": 4096, "F32": 31252, "F4": 501}
    assert w.total_bytes == 1_000_000 + 4096 + 31252 + 501
    assert weights_from_counts({"BF16": 1, "Q9_WEIRD": 1}, "x") is None  # never guess an unknown width


# --- Hub through FakeHub -----------------------------------------------------------------------------------------
@pytest.fixture
def fake(tmp_path: Path) -> FakeHub:
    return FakeHub(tmp_path / "fakehub")


def test_hub_found_with_weights_from_metadata(fake: FakeHub) -> None:
    src = load_model("Qwen/Qwen3-8B", hub=fake)
    assert src.origin == "hub" and src.model_id == "Qwen/Qwen3-8B"
    assert src.revision == "b968826d9c46dd6066d109eabc6255188de91218"  # the snapshot's commit
    assert src.config == QWEN3_8B
    assert src.weights is not None and src.weights.source == "hub safetensors metadata"
    # 8190735360 BF16 elements * 2 B (element count derived from the config in fake-index.json)
    assert src.weights.total_bytes == 16_381_470_720
    assert dict(src.weights.params_by_dtype) == {"BF16": 8_190_735_360}
    # the metadata call is pinned to the commit config.json came from
    assert ("parameter_count", "Qwen/Qwen3-8B", "b968826d9c46dd6066d109eabc6255188de91218", None) in fake.calls


def test_hub_mixed_dtypes(fake: FakeHub) -> None:
    w = load_model("acme/tiny-fp8", hub=fake).weights
    assert w is not None
    assert w.total_bytes == 1_000_000 + 2048 * 2 + 7813 * 4 + 501  # = 1035849
    assert w.total_bytes == 1_035_849


def test_hub_unknown_dtype_or_no_safetensors_gives_none_with_warning(fake: FakeHub) -> None:
    said: list[str] = []
    assert load_model("acme/strange-dtype", hub=fake, warn=said.append).weights is None
    assert "Q9_WEIRD" in said[0]
    assert load_model("acme/bin-only", hub=fake).weights is None  # .bin only: the planner estimates


def test_hub_not_found(fake: FakeHub) -> None:
    with pytest.raises(ModelNotFound) as info:
        load_model("acme/does-not-exist", hub=fake)
    assert info.value.message == "model acme/does-not-exist not found on the Hugging Face Hub"
    assert "HF_TOKEN" in info.value.hint


def test_hub_not_found_suggests_catalog_spelling(fake: FakeHub) -> None:
    with pytest.raises(ModelNotFound) as info:
        load_model("Qwen/Qwen3-8b-", hub=fake)
    assert "did you mean Qwen/Qwen3-8B?" in info.value.hint


@pytest.mark.parametrize(("typed", "meant"), [
    # a variant of a catalog model: its base (same architecture and size), not the closest spelling
    # (difflib alone: Qwen/Qwen3-VL-235B-A22B-Instruct, a vision model, ratio 0.89 against 0.75)
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "Qwen/Qwen3-235B-A22B"),
    ("openai/gpt-oss-120b-abliterated", "openai/gpt-oss-120b"),
    ("qwen/qwen3-8b", "Qwen/Qwen3-8B"),                     # the letter case only
    ("Qwen/Qwen3-8B-Base", "Qwen/Qwen3-8B"),
])
def test_hub_not_found_suggests_the_catalog_model_a_variant_extends(fake: FakeHub, typed: str, meant: str) -> None:
    with pytest.raises(ModelNotFound) as info:
        load_model(typed, hub=fake)
    assert f"did you mean {meant}?" in info.value.hint


def test_hub_gated_without_token(fake: FakeHub) -> None:
    with pytest.raises(GatedModel) as info:
        load_model("meta-llama/Llama-3.1-8B-Instruct", hub=fake)
    assert "no token was given" in info.value.message
    assert "HF_TOKEN" in info.value.hint and "huggingface.co/meta-llama/Llama-3.1-8B-Instruct" in info.value.hint


def test_hub_gated_with_token_lacking_access_never_leaks_it(fake: FakeHub) -> None:
    with pytest.raises(GatedModel) as info:
        load_model("meta-llama/Llama-3.1-8B-Instruct", hub=fake, token=SECRET)
    assert "token in use has no access" in info.value.message
    assert SECRET not in info.value.message + info.value.hint + str(info.value)
    assert fake.calls[0][3] == SECRET  # the token did reach the Hub client


def test_hub_gated_with_good_token_from_env(fake: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_with_access")
    src = load_model("meta-llama/Llama-3.1-8B-Instruct", hub=fake)
    assert src.weights is not None
    assert src.weights.total_bytes == 8_030_261_248 * 2  # BF16 = 16060522496
    assert all(call[3] == "hf_fake_token_with_access" for call in fake.calls)


def test_hub_revision_not_found_and_no_config(fake: FakeHub) -> None:
    with pytest.raises(ModelNotFound, match="revision 'v9' not found in Qwen/Qwen3-8B"):
        load_model("Qwen/Qwen3-8B", hub=fake, revision="v9")
    with pytest.raises(BadModelConfig, match="has no config.json"):
        load_model("acme/gguf-only", hub=fake)
    with pytest.raises(ModelNotFound, match="disabled"):
        load_model("acme/disabled", hub=fake)


def test_hub_malformed_config(fake: FakeHub) -> None:
    with pytest.raises(BadModelConfig, match="config.json of acme/broken-config is not valid JSON"):
        load_model("acme/broken-config", hub=fake)


def test_hub_unreachable_falls_back_to_catalog_silently(tmp_path: Path) -> None:
    """Issue 9 item 10: a catalog model planned with no network printed 'Hub unreachable' on every run. The
    catalog copy is the model's own config: no warning (the plan's text names the catalog), except for a
    --revision it cannot honour."""
    said: list[str] = []
    src = load_model("Qwen/Qwen3-235B-A22B", hub=FakeHub(tmp_path, unreachable=True), warn=said.append)
    assert src.origin == "catalog"
    assert src.weights is not None and src.weights.total_bytes == 470_191_875_096
    assert src.config["num_hidden_layers"] == 94 and src.config["num_experts"] == 128
    assert said == []
    load_model("Qwen/Qwen3-235B-A22B", hub=FakeHub(tmp_path, unreachable=True), warn=said.append, revision="v2")
    assert said == ["revision 'v2' ignored: Qwen/Qwen3-235B-A22B comes from the embedded catalog (the Hugging Face "
                    "Hub is unreachable)"]


def test_hub_server_error_falls_back_like_unreachable(fake: FakeHub) -> None:
    with pytest.raises(HubUnreachable) as info:
        load_model("acme/flaky", hub=fake)  # 503, and not in the catalog
    assert "HF_HUB_OFFLINE" in info.value.hint


def test_hub_unreachable_and_not_in_catalog(tmp_path: Path) -> None:
    with pytest.raises(HubUnreachable) as info:
        load_model("acme/unknown-model", hub=FakeHub(tmp_path, unreachable=True), token=SECRET)
    assert "not in the embedded catalog" in info.value.message
    assert "HF_HUB_OFFLINE" in info.value.hint and "local directory" in info.value.hint
    assert SECRET not in info.value.message + info.value.hint


def test_hub_metadata_unreachable_keeps_config(tmp_path: Path) -> None:
    said: list[str] = []
    src = load_model("Qwen/Qwen3-8B", hub=FakeHub(tmp_path, metadata_unreachable=True), warn=said.append)
    assert src.origin == "hub" and src.config == QWEN3_8B and src.weights is None
    assert "ConnectError" in said[0] and "estimates" in said[0]


def test_offline_with_fake_uses_its_cache_only(fake: FakeHub) -> None:
    load_model("Qwen/Qwen3-8B", hub=fake)  # populate the fake's cache
    fake.calls.clear()
    src = load_model("Qwen/Qwen3-8B", hub=fake, offline=True)
    assert src.origin == "hub-cache" and src.revision == "b968826d9c46dd6066d109eabc6255188de91218"
    assert [c[0] for c in fake.calls] == ["download_config"]  # no metadata call offline


# --- offline with the real huggingface_hub on a temp HF cache -----------------------------------------------------
def make_hf_cache(cache: Path, repo_id: str, commit: str, config: dict[str, Any]) -> Path:
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_offline_real_library_reads_hf_cache(clean_hf_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = make_hf_cache(clean_hf_env, "acme/cached-model", commit, {"model_type": "llama", "hidden_size": 64})
    write_safetensors(snapshot / "model.safetensors", {"w": ("BF16", [64, 64], 2), "b": ("F32", [64], 4)})
    src = load_model("acme/cached-model")  # offline from the environment, real HfHubClient
    assert src.origin == "hub-cache" and src.revision == commit
    assert src.config == {"model_type": "llama", "hidden_size": 64}
    assert src.weights is not None and src.weights.source == "safetensors headers"
    assert src.weights.total_bytes == 64 * 64 * 2 + 64 * 4  # 8192 + 256 = 8448


def test_offline_cache_config_equal_to_catalog_borrows_catalog_bytes(clean_hf_env: Path) -> None:
    entry = catalog.load_entry("Qwen/Qwen3-235B-A22B")
    assert entry is not None
    make_hf_cache(clean_hf_env, "Qwen/Qwen3-235B-A22B", "8efa61729e24" + "0" * 28, entry["config"])
    src = load_model("Qwen/Qwen3-235B-A22B", offline=True)
    assert src.origin == "hub-cache"
    assert src.weights is not None and src.weights.total_bytes == 470_191_875_096


def test_offline_uncached_revision_falls_to_catalog(clean_hf_env: Path) -> None:
    make_hf_cache(clean_hf_env, "Qwen/Qwen3-8B", "a" * 40, QWEN3_8B)
    said: list[str] = []
    src = load_model("Qwen/Qwen3-8B", offline=True, revision="b" * 40, warn=said.append)
    assert src.origin == "catalog" and "ignored" in said[0]


def test_offline_not_cached_not_in_catalog(clean_hf_env: Path) -> None:
    with pytest.raises(HubUnreachable) as info:
        load_model("acme/nowhere", offline=True)
    assert str(clean_hf_env) in info.value.message
    assert isinstance(info.value, ModelSourceError) and info.value.exit_code == 3


def test_offline_catalog_path_is_fast_and_never_imports_huggingface_hub(clean_hf_env: Path) -> None:
    code = (
        "import sys, time\n"
        "from kubectl_llm.adapters import load_model\n"
        "t = time.perf_counter(); src = load_model('Qwen/Qwen3-8B', offline=True); dt = time.perf_counter() - t\n"
        "print(src.origin, 'huggingface_hub' in sys.modules, f'{dt * 1000:.2f}')\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(clean_hf_env), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO)
    origin, imported, millis = out.stdout.split()
    print(f"load_model('Qwen/Qwen3-8B', offline=True): {millis} ms")
    assert origin == "catalog" and imported == "False"
    assert float(millis) < 20.0  # measured ~0.2 ms on the 2-core CI box; 20 ms is "a few ms" with slack


# --- embedded catalog ---------------------------------------------------------------------------------------------
REQUIRED = ["Qwen/Qwen3-8B", "Qwen/Qwen3.5-397B-A17B-FP8", "MiniMaxAI/MiniMax-M2.5", "deepseek-ai/DeepSeek-V3",
            "openai/gpt-oss-120b", "nvidia/Nemotron-H-56B-Base-8K"]


def test_catalog_lists_and_loads_every_entry() -> None:
    ids = list_catalog()
    assert set(REQUIRED) <= set(ids) and len(ids) >= 33
    for model_id in ids:
        src = catalog.load(model_id)
        assert src is not None and src.model_id == model_id and src.origin == "catalog"
        assert src.config.get("architectures"), model_id


def test_catalog_lookup_is_case_insensitive() -> None:
    src = load_model("qwen/qwen3-8b", offline=True)
    assert src.model_id == "Qwen/Qwen3-8B" and src.config["hidden_size"] == 4096


def test_catalog_minimax_is_completed_with_attn_type_list() -> None:
    cfg = catalog.load("MiniMaxAI/MiniMax-M2.5").config  # type: ignore[union-attr]
    assert cfg["attn_type_list"] == [1] * 62 and cfg["num_hidden_layers"] == 62
    assert cfg["quantization_config"]["weight_block_size"] == [128, 128]


def test_catalog_qwen35_fp8_is_the_bf16_config_plus_fp8_blocks() -> None:
    fp8 = catalog.load("Qwen/Qwen3.5-397B-A17B-FP8").config  # type: ignore[union-attr]
    bf16 = catalog.load("Qwen/Qwen3.5-397B-A17B").config  # type: ignore[union-attr]
    q = fp8["quantization_config"]
    assert {k: v for k, v in fp8.items() if k != "quantization_config"} == bf16
    assert (q["quant_method"], q["fmt"], q["activation_scheme"], q["weight_block_size"]) == \
        ("fp8", "e4m3", "dynamic", [128, 128])
    keep = q["modules_to_not_convert"]
    assert "lm_head" in keep and "model.visual" in keep
    assert "model.language_model.layers.59.mlp.gate" in keep
    # 45 linear-attention layers keep in_proj_a and in_proj_b; layer 3 is full attention
    assert sum(m.endswith("linear_attn.in_proj_a") for m in keep) == 45
    assert "model.language_model.layers.3.linear_attn.in_proj_a" not in keep
    assert fp8["text_config"]["num_key_value_heads"] == 2


shared = pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models not beside the clone")


@shared
def test_catalog_covers_every_shared_model_without_drift() -> None:
    for folder in sorted(p for p in SHARED_MODELS.iterdir() if (p / "config.json").is_file()):
        meta = json.loads((folder / "meta.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        entry = catalog.load_entry(meta["model_id"])
        assert entry is not None, f"{meta['model_id']} missing from the catalog"
        got = dict(entry["config"])
        if meta["model_id"] == "MiniMaxAI/MiniMax-M2.5":
            assert got.pop("attn_type_list") == [1] * config["num_hidden_layers"]
        assert got == config, meta["model_id"]
        total = meta["total_weight_bytes"]
        assert (entry["weights"] or {}).get("total_bytes") == total, meta["model_id"]


@shared
def test_catalog_files_equal_a_fresh_build() -> None:
    built = _build.build(SHARED_MODELS)
    on_disk = {p.name for p in catalog.MODELS_DIR.glob("*.json")}
    assert set(built) == on_disk
    for name, entry in built.items():
        assert (catalog.MODELS_DIR / name).read_text() == _build.render(entry), \
            f"{name} drifted: run python -m kubectl_llm.catalog._build"


@pytest.fixture
def dead_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """HF_ENDPOINT on a local port nobody listens on: 'online' mode with no reachable Hub, and no internet touched."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    return endpoint


def test_real_client_dead_hub_falls_back_to_catalog_quickly(dead_endpoint: str) -> None:
    import time

    said: list[str] = []
    start = time.perf_counter()
    src = load_model("Qwen/Qwen3-8B", warn=said.append)  # online mode, real HfHubClient
    elapsed = time.perf_counter() - start
    assert src.origin == "catalog" and said == []      # a catalog hit is not worth a warning
    assert elapsed < 5  # the probe fails at once; huggingface_hub's own retries would take ~25 s


def test_real_client_dead_hub_uses_cached_config(dead_endpoint: str, clean_hf_env: Path) -> None:
    commit = "c" * 40
    snapshot = make_hf_cache(clean_hf_env, "acme/cached-online", commit, {"model_type": "llama"})
    write_safetensors(snapshot / "model.safetensors", {"w": ("F16", [8, 8], 2)})
    said: list[str] = []
    src = load_model("acme/cached-online", warn=said.append)
    assert src.origin == "hub-cache" and src.revision == commit and src.config == {"model_type": "llama"}
    assert src.weights is not None and src.weights.total_bytes == 128  # 8*8 F16 * 2 B from the cached header
    assert said == [f"the Hugging Face Hub is unreachable; using the HF cache copy of acme/cached-online "
                    f"(revision {commit})"]


def test_real_client_dead_hub_model_nowhere(dead_endpoint: str) -> None:
    with pytest.raises(HubUnreachable) as info:
        load_model("acme/nowhere-online")
    assert info.value.message == ("cannot reach the Hugging Face Hub for acme/nowhere-online, and it is neither "
                                  "in the local HF cache nor in the embedded catalog")
    assert "HF_ENDPOINT" in info.value.hint


# --- does the pod need a token? (add/upgrade ask; plan does not) --------------------------------------------------
def test_check_token_asks_the_hub_anonymously_only_when_asked(fake: FakeHub) -> None:
    gated = load_model("meta-llama/Llama-3.1-8B-Instruct", hub=fake, token="hf_fake_token_with_access",
                       check_token=True)
    assert gated.requires_token is True      # our token reads it; the pod, without one, would be refused
    assert ("requires_token", "meta-llama/Llama-3.1-8B-Instruct", None, None) in fake.calls
    public = load_model("Qwen/Qwen3-8B", hub=fake, check_token=True)
    assert public.requires_token is False
    calls = len(fake.calls)
    assert load_model("Qwen/Qwen3-8B", hub=fake).requires_token is None   # plan: no extra Hub call
    assert "requires_token" not in [c[0] for c in fake.calls[calls:]]


def test_real_client_asks_with_no_token_and_classifies_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    from kubectl_llm.adapters.hub import HfHubClient

    seen: list[object] = []

    def refuse(url: str, token: object = None, **kw: object) -> None:
        seen.append(token)
        raise hf_errors.GatedRepoError("401 Client Error: Cannot access gated repo",
                                       response=fake_hub_response(401, url))

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", refuse)
    client = HfHubClient()
    client._reachable = True
    assert client.requires_token("meta-llama/Llama-3.1-8B-Instruct", revision=None) is True
    assert seen == [False]                   # token=False: never the admin's own token
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, token=None, **kw: None)
    assert client.requires_token("Qwen/Qwen3-8B", revision=None) is False
    client._reachable = False
    assert client.requires_token("Qwen/Qwen3-8B", revision=None) is None

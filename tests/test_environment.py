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


def test_test_only_no_deps_packages_agree_in_pyproject_makefile_and_environment_yml():
    """torchattacks is installed with --no-deps (it pins requests~=2.25.1): pyproject.toml lists it
    under [tool.medadv] test-no-deps, the Makefile installs exactly that list, environment.yml names it."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["medadv"]["test-no-deps"]
    makefile = re.search(r"^TEST_NO_DEPS := (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert sorted(map(_norm, listed)) == sorted(_norm(p) for p in re.findall(r'"([^"]+)"', makefile))
    assert "--no-deps $(TEST_NO_DEPS)" in (ROOT / "Makefile").read_text()
    env_text = (ROOT / "environment.yml").read_text()
    for package in listed:
        assert f"pip install --no-deps {package}" in env_text
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(_norm(d).startswith("torchattacks") for d in deps)

"""Packaging: the wheel builds offline with Debian's python3-build (no isolation: setuptools from
the system), installs into a fresh venv that sees the system's httpx, and imports there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_builds_and_imports_in_a_clean_venv(tmp_path: Path) -> None:
    # Built from a copy: the build's egg-info and build/ directories stay out of the source tree.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "dist", "*.egg-info"))
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(dist), str(source)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = list(dist.glob("airlock_sandbox-*-py3-none-any.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "airlock/py.typed" in names and "airlock/__init__.py" in names
    modules = {f"airlock/{module.name}" for module in (ROOT / "airlock").glob("*.py")}
    assert modules - set(names) == set(), "every module of the package is in the wheel"
    assert not any(n.startswith(("tests/", "examples/")) for n in names), names
    metadata = zipfile.ZipFile(wheels[0]).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "Name: airlock-sandbox" in metadata and "Requires-Dist: httpx" in metadata

    venv = tmp_path / "venv"
    # pip comes from the venv's own ensurepip (python3-venv's bundled wheel): no network.
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    python = venv / "bin" / "python"
    # Offline: the wheel alone; its dependency (httpx) is the system's, seen through --system-site-packages.
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", str(wheels[0])], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    probe = "import airlock, httpx; print(airlock.__file__); print(airlock.__version__); print(airlock.Sandbox.create.__doc__ is not None and callable(airlock.with_approval) and airlock.FilesystemEventType.CREATE == 'create')"
    imported = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=str(tmp_path))
    assert imported.returncode == 0, imported.stderr
    location, version, documented = imported.stdout.split()
    assert location.startswith(str(venv)), f"imported from {location}, not the venv"
    assert version and documented == "True"

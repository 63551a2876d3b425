#!/usr/bin/env python3
"""Regenerates the real-metadata fixtures of `rebuild pypi`'s inference rules.

For each NAME==VERSION it downloads, with the host's pip and its configured
index, the release's wheel (`--only-binary :all:`) and sdist
(`--no-binary :all:`), and writes small extracts (never the archives) to
tests/fixtures/rebuild/pypi/<name>-<version>/:

  WHEEL            the wheel's .dist-info/WHEEL, as published
  pyproject.toml   the sdist's top-level pyproject.toml, when it has one
                   (comment lines naming a URL dropped)
  wheel-entries.txt  every wheel entry in central-directory order:
                   `YYYY-MM-DD hh:mm:ss NAME` (its DOS date-time as stored)
  sdist-mtimes.txt every regular file of the sdist: `EPOCH NAME` (the tar
                   member's mtime, whole seconds, NAME without the top directory)
  sources.txt      the two archives' file names and SHA-256

and, for the few in SMALL_WHEELS (under 20 KB), the wheel itself, which
the tests read with the crate's own zip reader.

Usage: scripts/pypi-rebuild-fixtures.py [NAME==VERSION ...]
(no argument: the committed set). Downloads go to $PYPI_FIXTURE_CACHE
(default /tmp/pypi-rebuild-fixtures).
"""

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

SAMPLES = [
    "idna==3.10", "packaging==24.2", "tomli==2.0.1", "click==8.1.7", "jinja2==3.1.4",
    "typing-extensions==4.12.2",  # flit_core
    "annotated-types==0.7.0", "attrs==24.2.0", "urllib3==2.2.3", "iniconfig==2.0.0",
    "pydantic==2.9.2", "pygments==2.18.0", "colorama==0.4.6",  # hatchling
    "six==1.17.0", "certifi==2024.8.30",  # setuptools >= 70.1 (its own bdist_wheel)
    "six==1.16.0", "python-dateutil==2.8.2", "pluggy==1.5.0", "requests==2.32.3",
    "pytz==2024.2",  # setuptools with wheel's bdist_wheel
    "poetry-core==1.9.1", "rich==13.9.4", "tomlkit==0.13.2",  # poetry-core
    "pdm-backend==2.4.3", "fastapi==0.115.5",  # pdm-backend
    "markupsafe==2.1.5",  # not pure Python: the refusal
]

SMALL_WHEELS = {"six==1.17.0"}

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "rebuild" / "pypi"
CACHE = Path(os.environ.get("PYPI_FIXTURE_CACHE", "/tmp/pypi-rebuild-fixtures"))


def download(spec: str, kind: str) -> Path:
    target = CACHE / spec.replace("==", "-") / kind
    target.mkdir(parents=True, exist_ok=True)
    if not any(target.iterdir()):
        flag = ["--only-binary", ":all:"] if kind == "wheel" else ["--no-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *flag, spec, "-d",
                        str(target)], check=True)
    files = sorted(target.iterdir())
    assert len(files) == 1, f"{spec}: expected one {kind}, found {files}"
    return files[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract(spec: str) -> None:
    name, version = spec.split("==")
    wheel, sdist = download(spec, "wheel"), download(spec, "sdist")
    out = OUT / f"{name.lower()}-{version}"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
        wheel_files = [i.filename for i in infos if i.filename.endswith(".dist-info/WHEEL")
                       and i.filename.count("/") == 1]
        assert len(wheel_files) == 1, f"{wheel.name}: {wheel_files}"
        (out / "WHEEL").write_bytes(z.read(wheel_files[0]))
        lines = ["%04d-%02d-%02d %02d:%02d:%02d %s" % (*i.date_time, i.filename) for i in infos]
        (out / "wheel-entries.txt").write_text("\n".join(lines) + "\n")
    with tarfile.open(sdist) as t:
        lines, pyproject = [], None
        for member in t.getmembers():
            if not member.isfile() or "/" not in member.name:
                continue
            inner = member.name.split("/", 1)[1]
            lines.append(f"{int(member.mtime)} {inner}")
            if inner == "pyproject.toml":
                pyproject = t.extractfile(member).read()
        (out / "sdist-mtimes.txt").write_text("\n".join(lines) + "\n")
        if pyproject is not None:
            # Comments naming a host (a registry's pages, say) are dropped:
            # no registry host is committed here; the tables stay whole.
            kept = [l for l in pyproject.split(b"\n") if not (l.lstrip().startswith(b"#") and b"://" in l)]
            (out / "pyproject.toml").write_bytes(b"\n".join(kept))
    if spec in SMALL_WHEELS:
        assert wheel.stat().st_size < 20_000, f"{wheel.name} is not small"
        (out / wheel.name).write_bytes(wheel.read_bytes())
    (out / "sources.txt").write_text(f"{sha256(wheel)}  {wheel.name}\n{sha256(sdist)}  {sdist.name}\n")
    print(f"{out.relative_to(ROOT)}: {wheel.name}, {sdist.name}")


if __name__ == "__main__":
    for spec in sys.argv[1:] or SAMPLES:
        extract(spec)

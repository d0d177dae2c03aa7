"""The build backend of the crunch package: PEP 517 and PEP 660 hooks.

Why not setuptools: pip builds a package in an isolated environment into
which it first installs the backend that pyproject.toml requires, from
PyPI. On a machine without PyPI (an air-gapped server, a Debian box with
only its apt mirror) that fails, although the package is pure Python and
needs nothing to build. This backend is in the source tree
(pyproject.toml's backend-path) and uses only the standard library, so
`requires = []`, the isolated environment stays empty and
`pip install ./clients/python` works offline.

It builds what a pure-Python package needs: a wheel (crunch/ with its
py.typed marker, and the dist-info: METADATA from pyproject.toml's
[project] table, WHEEL, RECORD), an sdist, and an editable wheel for
`pip install -e` (a .pth file naming this directory). The version is
crunch/__init__.py's __version__, its one home. Builds are reproducible:
files are sorted and stamped with SOURCE_DATE_EPOCH (else 1980-01-01).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent  # clients/python: pyproject.toml's directory
PACKAGE = "crunch"
TAG = "py3-none-any"

__all__ = [
    "build_wheel", "build_sdist", "build_editable",
    "get_requires_for_build_wheel", "get_requires_for_build_sdist",
    "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable",
]


# -- PEP 517 / PEP 660 hooks -------------------------------------------------

def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the standard library is enough."""
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the standard library is enough."""
    return []


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the standard library is enough."""
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Write the dist-info directory (without RECORD) and return its name."""
    meta = _Metadata.read()
    target = Path(metadata_directory) / meta.dist_info
    target.mkdir(parents=True, exist_ok=True)
    for name, data in meta.dist_info_files():
        (target / name).write_bytes(data)
    return meta.dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    """Build the wheel into wheel_directory; return its file name."""
    meta = _Metadata.read()
    files = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in _package_files()]
    return _write_wheel(Path(wheel_directory), meta, files)


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    """Build a wheel that puts this directory on sys.path (a .pth file), so
    that the installed crunch is the source tree's; return its file name."""
    meta = _Metadata.read()
    pth = (f"__editable__.{meta.wheel_name}.pth", (str(ROOT) + "\n").encode())
    return _write_wheel(Path(wheel_directory), meta, [pth])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Build the source archive (what pip needs to build the wheel again:
    pyproject.toml, the backend, the package, README.md, PKG-INFO)."""
    meta = _Metadata.read()
    base = f"{meta.wheel_name}-{meta.version}"
    paths = [ROOT / "pyproject.toml", ROOT / "README.md", Path(__file__).resolve()]
    paths += _package_files()
    files = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in paths]
    files.append(("PKG-INFO", meta.metadata()))
    name = f"{base}.tar.gz"
    mtime = _epoch()
    Path(sdist_directory).mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, data in sorted(files):
            info = tarfile.TarInfo(f"{base}/{arcname}")
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    # gzip with a fixed header time too, so that the archive is reproducible.
    with open(Path(sdist_directory) / name, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=mtime) as gz:
            gz.write(raw.getvalue())
    return name


# -- the pieces ---------------------------------------------------------------

class _Metadata:
    """The project's core metadata, from pyproject.toml and the package."""

    def __init__(self, project: Dict[str, Any], version: str) -> None:
        self.project = project
        self.name: str = project["name"]
        self.version = version
        self.wheel_name = re.sub(r"[-_.]+", "_", self.name).lower()
        self.dist_info = f"{self.wheel_name}-{version}.dist-info"

    @classmethod
    def read(cls) -> "_Metadata":
        project = _load_project(ROOT / "pyproject.toml")
        if project.get("dynamic") != ["version"]:
            raise ValueError("crunch_build: [project] must have dynamic = [\"version\"] and nothing else dynamic")
        init = (ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8")
        m = re.search(r'^__version__ = "([^"]+)"$', init, re.M)
        if not m:
            raise ValueError(f"crunch_build: no __version__ = \"...\" line in {PACKAGE}/__init__.py")
        return cls(project, m.group(1))

    def metadata(self) -> bytes:
        """METADATA (core metadata 2.1), also the sdist's PKG-INFO."""
        p = self.project
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if "description" in p:
            lines.append(f"Summary: {p['description']}")
        if "requires-python" in p:
            lines.append(f"Requires-Python: {p['requires-python']}")
        lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
        body = ""
        if "readme" in p:
            lines.append("Description-Content-Type: text/markdown")
            body = (ROOT / p["readme"]).read_text(encoding="utf-8")
        return ("\n".join(lines) + "\n\n" + body).encode()

    def dist_info_files(self) -> List[Tuple[str, bytes]]:
        wheel = (f"Wheel-Version: 1.0\nGenerator: crunch_build (in-tree)\n"
                 f"Root-Is-Purelib: true\nTag: {TAG}\n")
        return [("METADATA", self.metadata()), ("WHEEL", wheel.encode()),
                ("top_level.txt", f"{PACKAGE}\n".encode())]


def _load_project(path: Path) -> Dict[str, Any]:
    """pyproject.toml's [project] table: read by tomllib (Python 3.11+) or
    tomli where there is one, else by _project_table."""
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            return _project_table(text)
    project: Dict[str, Any] = tomllib.loads(text)["project"]
    return project


def _project_table(text: str) -> Dict[str, Any]:
    """The [project] table without a TOML library. Before Python 3.11 the
    standard library has none, and pip's isolated build environment holds
    nothing we do not require (requiring tomli would need PyPI). So this
    reads the table in the form pyproject.toml keeps it: one `key = value`
    a line, each value a double-quoted string or a one-line array of them,
    which is JSON; anything else is an error, never a guess."""
    table: Dict[str, Any] = {}
    inside = False
    decoder = json.JSONDecoder()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == "[project]"
            continue
        if not inside or not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        try:
            if not sep:
                raise ValueError("no '='")
            obj, end = decoder.raw_decode(value.strip())
            rest = value.strip()[end:].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"{rest!r} after the value")
        except ValueError as exc:
            raise ValueError(f"crunch_build: without tomllib (Python 3.11+) or tomli, "
                             f"pyproject.toml's [project] must be simple `key = value` "
                             f"lines; cannot read {line!r}: {exc}") from None
        table[key.strip()] = obj
    return table


def _package_files() -> List[Path]:
    """The package's files: its modules and the py.typed marker."""
    pkg = ROOT / PACKAGE
    files = sorted(pkg.glob("*.py")) + [pkg / "py.typed"]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"crunch_build: missing {missing}")
    return files


def _write_wheel(directory: Path, meta: _Metadata, files: List[Tuple[str, bytes]]) -> str:
    name = f"{meta.wheel_name}-{meta.version}-{TAG}.whl"
    files = sorted(files) + [(f"{meta.dist_info}/{n}", d) for n, d in meta.dist_info_files()]
    record = [f"{arcname},sha256={_digest(data)},{len(data)}" for arcname, data in files]
    record.append(f"{meta.dist_info}/RECORD,,")
    files.append((f"{meta.dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    stamp = time.gmtime(_epoch())[:6]
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(directory / name, "w", zipfile.ZIP_DEFLATED) as whl:
        for arcname, data in files:
            info = zipfile.ZipInfo(arcname, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return name


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _epoch() -> int:
    # Zip can't store dates before 1980.
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)

"""Tests of the in-tree build backend (build_backend/crunch_build.py): what
its wheel and sdist hold, and its reading of pyproject.toml without a TOML
library. go test's install test does the real `pip install`.

    /usr/bin/python3 -m unittest -v test_packaging
"""

import base64
import hashlib
import os
import sys
import tarfile
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "build_backend"))
import crunch_build  # noqa: E402

import crunch  # noqa: E402


class BackendTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def test_wheel(self):
        name = crunch_build.build_wheel(self.dir.name)
        self.assertEqual(name, f"crunch-{crunch.__version__}-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.dir.name, name)) as whl:
            names = set(whl.namelist())
            pkg = os.path.dirname(crunch.__file__)
            modules = {f"crunch/{f}" for f in os.listdir(pkg) if f.endswith(".py")}
            info = f"crunch-{crunch.__version__}.dist-info"
            self.assertEqual(names, modules | {"crunch/py.typed"}
                             | {f"{info}/{f}" for f in ("METADATA", "WHEEL", "RECORD", "top_level.txt")})
            record = whl.read(f"{info}/RECORD").decode().splitlines()
            for line in record:
                path, digest, size = line.rsplit(",", 2)
                if path.endswith("RECORD"):
                    continue
                data = whl.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                self.assertEqual((digest, int(size)), (f"sha256={want}", len(data)), path)
            meta = whl.read(f"{info}/METADATA").decode()
            for field in ("Name: crunch", f"Version: {crunch.__version__}",
                          "Requires-Dist: numpy", "Requires-Dist: websockets>=10"):
                self.assertIn(field + "\n", meta)
        # Reproducible: the same bytes again.
        again = tempfile.mkdtemp(dir=self.dir.name)
        crunch_build.build_wheel(again)
        with open(os.path.join(self.dir.name, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_sdist_and_editable(self):
        name = crunch_build.build_sdist(self.dir.name)
        base = f"crunch-{crunch.__version__}"
        with tarfile.open(os.path.join(self.dir.name, name)) as tar:
            names = set(tar.getnames())
        for f in ("pyproject.toml", "README.md", "PKG-INFO", "build_backend/crunch_build.py",
                  "crunch/__init__.py", "crunch/py.typed"):
            self.assertIn(f"{base}/{f}", names)
        name = crunch_build.build_editable(self.dir.name)
        with zipfile.ZipFile(os.path.join(self.dir.name, name)) as whl:
            pth = [n for n in whl.namelist() if n.endswith(".pth")]
            self.assertEqual(len(pth), 1)
            self.assertEqual(whl.read(pth[0]).decode().strip(), str(crunch_build.ROOT))

    def test_project_table_without_toml_library(self):
        try:
            import tomllib
        except ImportError:
            self.skipTest("no tomllib (Python 3.11+) to compare with")
        with open(crunch_build.ROOT / "pyproject.toml", "rb") as f:
            want = tomllib.load(f)["project"]
        text = (crunch_build.ROOT / "pyproject.toml").read_text()
        self.assertEqual(crunch_build._project_table(text), want)
        with self.assertRaises(ValueError):
            crunch_build._project_table('[project]\nname = """multi\nline"""\n')


if __name__ == "__main__":
    unittest.main()

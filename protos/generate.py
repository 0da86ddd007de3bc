"""Generate the Python protobuf/gRPC code (with .pyi stubs) from protos/.

    python protos/generate.py            # writes shared/proto/
    python protos/generate.py --check    # exits 1 when shared/proto/ is stale

protoc emits absolute imports rooted at protos/ (``from automation.v1 import ...``);
they are rewritten to the package the code lives in (``shared.proto.automation.v1``).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
import tempfile
from pathlib import Path

from google.rpc import status_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_DIR = ROOT / "shared" / "proto"
PACKAGE = "shared.proto"


def _plugin(name: str) -> Path:
    """A protoc plugin installed next to this interpreter (mypy-protobuf, a dev dependency)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{name} not found next to {sys.executable}: pip install -e '.[dev]'")
    return path


def _generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    # google/rpc/*.proto ship with googleapis-common-protos, next to their generated modules.
    googleapis = Path(status_pb2.__file__).parents[2]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"-I{googleapis}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        # Type stubs of the messages and of the gRPC stubs/servicers (mypy-protobuf): mypy checks the
        # code that uses them (`make lint`); enum values are typed as ``<Enum>.ValueType``.
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    top_packages = {Path(p).parts[0] for p in protos}
    pattern = re.compile(rf"^(from|import) ({'|'.join(map(re.escape, top_packages))})(\.|\s)", re.M)
    for path in out_dir.rglob("*.py*"):
        text = path.read_text()
        path.write_text(pattern.sub(rf"\1 {PACKAGE}.\2\3", text))
    for directory in [out_dir, *(d for d in out_dir.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()


def _same_tree(a: Path, b: Path) -> list[str]:
    def files(root: Path) -> set[str]:
        return {
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        }

    fa, fb = files(a), files(b)
    diffs = sorted(fa ^ fb)
    diffs += [f for f in sorted(fa & fb) if not filecmp.cmp(a / f, b / f, shallow=False)]
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the checked-in code is stale")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            _generate(Path(tmp))
            stale = _same_tree(Path(tmp), OUT_DIR)
        if stale:
            print("generated code is stale; run `make protos`:", *stale, sep="\n  ")
            return 1
        print("generated code is up to date")
        return 0
    _generate(OUT_DIR)
    print(f"generated {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

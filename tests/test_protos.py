"""The checked-in generated code matches protos/ (one command regenerates it: `make protos`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import generate  # protos/generate.py (pytest's pythonpath in pyproject.toml)

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_has_not_drifted():
    result = subprocess.run(
        [sys.executable, str(ROOT / "protos" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_check_notices_a_changed_file(tmp_path):
    generate._generate(tmp_path)
    assert generate._same_tree(tmp_path, generate.OUT_DIR) == []
    stub = tmp_path / "automation" / "v1" / "automation_pb2.pyi"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    (tmp_path / "extra.py").write_text("")
    assert generate._same_tree(tmp_path, generate.OUT_DIR) == ["extra.py", "automation/v1/automation_pb2.pyi"]


def test_generated_imports_point_into_the_package():
    grpc_module = (generate.OUT_DIR / "automation" / "v1" / "automation_pb2_grpc.py").read_text()
    assert "from shared.proto.automation.v1 import automation_pb2" in grpc_module

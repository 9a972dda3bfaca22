"""cfn-lint on the synthesized templates (dev and prod)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("infra")

# W3005: CDK's own DependsOn next to a GetAtt of the same resource (harmless, not ours).
IGNORED = "W3005"


def test_cfn_lint_clean(
    tmp_path: Path, dev_json: dict[str, Any], prod_json: dict[str, Any]
) -> None:
    files = []
    for name, template in (("dev", dev_json), ("prod", prod_json)):
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        files.append(str(path))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--ignore-checks", IGNORED, "--", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

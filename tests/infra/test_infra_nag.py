"""cdk-nag (AwsSolutions) on its own App: zero unacknowledged findings, no stale acknowledgements.

Kept off the template fixtures' App: ``Template.from_stack`` runs validation plugins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import build

pytestmark = pytest.mark.xdist_group("infra")


def _nag(outdir: Path, stage: str) -> list[tuple[str, str]]:
    """(rule, construct path) of every finding cdk-nag reports."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    app = build(outdir, stage=stage)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:  # "ValidationFailed": the report says why
        if "Validation" not in str(error):
            raise
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_unacknowledged_findings(tmp_path: Path, stage: str) -> None:
    findings = _nag(tmp_path, stage)
    assert findings == [], "\n".join(f"{rule} at {path}" for rule, path in findings)


class _RecordingValidations:
    """Stands in for ``Validations.of(scope)``: records acknowledgements instead of applying."""

    def __init__(self, real: Any, scope: Any, acks: list[tuple[str, str]]) -> None:
        self._real, self._scope, self._acks = real, scope, acks

    def acknowledge(self, *rules: Any) -> None:
        for rule in rules:
            assert len(rule.reason) > 40, f"{rule.id}: give a real reason"
            self._acks.append((rule.id, self._scope.node.path))

    def add_plugins(self, *plugins: Any) -> None:
        self._real.add_plugins(*plugins)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_acknowledgement_matches_a_finding(
    tmp_path: Path, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the acknowledgements, each one must silence a finding under its construct and
    every finding must be acknowledged: no stale or over-broad acknowledgements."""
    import aws_cdk as cdk

    acks: list[tuple[str, str]] = []
    real_of = cdk.Validations.of
    monkeypatch.setattr(
        cdk.Validations,
        "of",
        lambda scope: _RecordingValidations(real_of(scope), scope, acks),
    )
    findings = _nag(tmp_path, stage)
    assert findings, "expected the acknowledged findings to reappear"
    for rule, path in acks:
        assert any(r == rule and p.startswith(path + "/") for r, p in findings), (
            f"stale acknowledgement {rule} on {path}"
        )
    for rule, path in findings:
        assert any(r == rule and path.startswith(p + "/") for r, p in acks), (
            f"{rule} at {path} is not acknowledged"
        )

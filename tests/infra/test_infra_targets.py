"""One app, one template: ``-c target=local`` differs from the AWS template only by its switches.

Every local difference is a named property of ``StageConfig`` (infra/config.py). Here each such
switch has a function that applies its documented effect to the AWS template; applied together,
they must give exactly the local template. A difference no switch explains fails, and so does a
switch that changes nothing, or one that exists in the config but not here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, build, resources, template_of

from infra.config import StageConfig
from infra.constructs.compute import architecture

pytestmark = pytest.mark.xdist_group("infra")

Template = dict[str, Any]


def _config(target: str) -> StageConfig:
    return StageConfig(stage="dev", cors_origins=("http://localhost:3000",), target=target)


def _asset_platform(aws: Template, local: Template) -> None:
    """The functions run on this machine's CPU, from an asset built for it (another hash)."""
    arch = architecture(_config("local")).name
    local_keys = {
        fn["Properties"]["Code"]["S3Key"]
        for fn in resources(local, "AWS::Lambda::Function").values()
    }
    (local_key,) = local_keys  # one asset for both functions, as in AWS
    for fn in resources(aws, "AWS::Lambda::Function").values():
        fn["Properties"]["Architectures"] = [arch]
        fn["Properties"]["Code"]["S3Key"] = local_key


def _metric_math_alarms(aws: Template, local: Template) -> None:
    """No alarm on metric math; the dashboard's alarm widget lists the alarms that remain."""
    gone = [
        key
        for key, alarm in resources(aws, "AWS::CloudWatch::Alarm").items()
        if "Metrics" in alarm["Properties"]  # CloudFormation's form of an expression alarm
    ]
    for key in gone:
        del aws["Resources"][key]
    gone_arns = {f"${{{key}.Arn}}" for key in gone}  # as _render shows them
    for dashboard in resources(aws, "AWS::CloudWatch::Dashboard").values():
        body = dashboard["Properties"]["DashboardBody"]
        for widget in body["widgets"]:
            alarms = widget["properties"].get("alarms")
            if alarms is not None:
                widget["properties"]["alarms"] = [a for a in alarms if a not in gone_arns]


SWITCHES: dict[str, Callable[[Template, Template], None]] = {
    "asset_platform": _asset_platform,
    "metric_math_alarms": _metric_math_alarms,
}


def _render(value: Any) -> Any:
    """An intrinsic inside a string, as ``${Logical.Attr}`` / ``${Logical}``."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    raise AssertionError(f"unexpected intrinsic in a dashboard body: {value}")


def _readable(template: Template) -> Template:
    """Dashboard bodies (one ``Fn::Join`` of JSON text and references) as JSON documents."""
    template = copy.deepcopy(template)
    for dashboard in resources(template, "AWS::CloudWatch::Dashboard").values():
        separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
        assert separator == ""
        text = "".join(_render(part) for part in parts)
        dashboard["Properties"]["DashboardBody"] = json.loads(text)
    return template


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Template]:
    aws = template_of(build(tmp_path_factory.mktemp("cdk-aws"), stage="dev", target="aws"))
    local = template_of(build(tmp_path_factory.mktemp("cdk-local"), stage="dev", target="local"))
    return _readable(aws.to_json()), _readable(local.to_json())


def _local_switches() -> set[str]:
    """StageConfig properties whose value differs between the two targets on this machine."""
    aws, local = _config("aws"), _config("local")
    names = {
        name
        for name, member in vars(StageConfig).items()
        if isinstance(member, property) and name != "is_local"
    }
    return {name for name in names if getattr(aws, name) != getattr(local, name)}


def test_every_local_switch_is_accounted_for_here() -> None:
    assert _local_switches() <= set(SWITCHES), "a new StageConfig switch needs its entry here"


def test_the_local_template_is_the_aws_template_with_the_switches_applied(
    templates: tuple[Template, Template],
) -> None:
    aws, local = templates
    assert aws != local
    expected = copy.deepcopy(aws)
    for name in sorted(_local_switches()):
        before = copy.deepcopy(expected)
        SWITCHES[name](expected, local)
        assert expected != before, f"switch {name} changes nothing in the template"
    assert expected == local


def test_only_the_config_looks_at_the_target() -> None:
    """The rest of the stack reads the switches, never the target itself."""
    pattern = re.compile(r"\bis_local\b|config\.target\b|\btarget\s*[!=]=")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
        for path in sorted((REPO_ROOT / "infra").rglob("*.py"))
        if path.name != "config.py" and "local_stack" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


def test_switches_say_why() -> None:
    """Each switch's docstring gives its reason, beginning with "Local switch:"."""
    for name in SWITCHES:
        doc = getattr(StageConfig, name).__doc__ or ""
        assert "Local switch:" in doc, name

"""The Lambda asset, built by infra/bundling.py exactly as `cdk synth` builds it.

Two builds (pip's cache under .build/ keeps them to a few seconds each):
- the deploy target (arm64, CPython 3.13, the runtime's): what is in it, and its size;
- this machine's platform (x86_64, the newest of CPython 3.14/3.13/3.12 installed, with
  bytecode; the session-scoped ``local_asset`` fixture, shared with test_infra_rie.py), imported
  and invoked in a clean interpreter that sees nothing but the asset (and the SDK, as Lambda's
  runtime does).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, LocalAsset

from infra import bundling
from infra.constructs.compute import RUNTIME_PYTHON_VERSION

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.slow]

MAX_ZIPPED = 5 * 2**20
HAS_MAIN = (REPO_ROOT / "lambda_app" / "main.py").is_file()


def _assert_pruned(asset: Path) -> None:
    assert (asset / "lambda_app" / "main.py").is_file() or not HAS_MAIN
    assert not (asset / "lambda_app" / "local").exists()
    assert not (asset / "pydantic" / "v1").exists()
    assert not (asset / "email_validator").exists()
    assert not (asset / "bin").exists()
    for name in ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six.py"):
        assert not (asset / name).exists(), f"{name}: the Lambda runtime provides the SDK"
    assert not list(asset.rglob("tests/__init__.py"))
    assert not [p for p in asset.rglob("*.pyc") if "cpython-311" in p.name]


@pytest.fixture(scope="module")
def target_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    asset = tmp_path_factory.mktemp("asset-arm64")
    bundling.build_asset(
        asset,
        platform="aarch64",
        python_version=RUNTIME_PYTHON_VERSION,
        compile_with=bundling.find_interpreter(RUNTIME_PYTHON_VERSION),
    )
    return asset


def test_deploy_target_asset(target_asset: Path) -> None:
    _assert_pruned(target_asset)
    (extension,) = (target_asset / "pydantic_core").glob("_pydantic_core.*.so")
    assert "cpython-313-aarch64-linux-gnu" in extension.name
    _, zipped = bundling.zipped_size(target_asset)
    assert zipped <= MAX_ZIPPED, f"{zipped / 2**20:.2f} MiB zipped"


def _run_on_asset(local_asset: LocalAsset, probe: str, **env: str) -> Any:
    """Run ``probe`` on the asset's interpreter, seeing only the asset and the SDK (as Lambda's
    /var/task, then /var/runtime); the JSON it printed last."""
    paths = [str(local_asset.task), str(local_asset.runtime)]
    result = subprocess.run(
        # -I: no user site, no PYTHON* variables, no cwd on sys.path; -S: no site-packages;
        # -B: never write bytecode (Lambda's code directory is read-only).
        [
            local_asset.python,
            "-I",
            "-S",
            "-B",
            "-c",
            f"import sys; sys.path[:0] = {paths!r}\n" + probe,
        ],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        cwd=local_asset.task.parent,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_asset_imports_and_serves_in_a_clean_interpreter(local_asset: LocalAsset) -> None:
    asset, sdk = local_asset.task, local_asset.runtime
    _assert_pruned(asset)
    assert (sdk / "boto3").is_dir()
    # Bytecode for every module, hash-based (valid whatever the zip does to timestamps).
    assert (asset / "lambda_app" / "__pycache__").is_dir()
    tag = "cpython-" + local_asset.python_version.replace(".", "")
    assert list((asset / "lambda_app" / "__pycache__").glob(f"main.{tag}.pyc"))
    _, zipped = bundling.zipped_size(asset)
    assert zipped <= MAX_ZIPPED, f"{zipped / 2**20:.2f} MiB zipped with bytecode"

    probe = textwrap.dedent(
        f"""
        import importlib.util, json, sys
        import lambda_app.main as main
        assert main.__file__.startswith({str(asset)!r}), main.__file__
        assert main.__cached__ and __import__("os").path.exists(main.__cached__)
        for absent in ("email_validator", "moto", "uvicorn"):
            assert importlib.util.find_spec(absent) is None, absent
        event = {{
            "version": "2.0", "routeKey": "GET /openapi.json", "rawPath": "/openapi.json",
            "rawQueryString": "", "headers": {{"host": "api.example.com"}},
            "requestContext": {{
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "domainPrefix": "api", "requestId": "r1", "routeKey": "GET /openapi.json",
                "stage": "$default", "time": "01/Jan/2030:00:00:00 +0000",
                "timeEpoch": 1893456000000,
                "http": {{"method": "GET", "path": "/openapi.json", "protocol": "HTTP/1.1",
                          "sourceIp": "192.0.2.1", "userAgent": "pytest"}},
            }},
            "isBase64Encoded": False,
        }}
        class Context:
            function_name = "order-api"; aws_request_id = "r1"
            def get_remaining_time_in_millis(self): return 10000
        response = main.handler(event, Context())
        assert response["statusCode"] == 200, response
        document = json.loads(response["body"])
        assert "pydantic.v1" not in sys.modules
        if importlib.util.find_spec("lambda_app.events.stream") is not None:
            from lambda_app.events import stream  # the stream consumer, same asset
            assert stream.handler({{}}, Context()) == {{"batchItemFailures": []}}
        print(json.dumps({{"openapi": document["openapi"], "paths": len(document["paths"])}}))
        """
    )
    summary = _run_on_asset(
        local_asset,
        probe,
        TABLE_NAME="x",
        CURSOR_SECRET="test-cursor-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="order-api",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    assert summary["openapi"].startswith("3.")
    assert summary["paths"] > 0


def test_the_lambda_adapter_keeps_its_promises_on_the_assets_python(
    local_asset: LocalAsset,
) -> None:
    """tests/lambda/gateway_checks.py, on the asset's interpreter: on 3.13+ (the runtime's 3.14
    included) requests run as eager tasks, and one that does not wait must not turn the loop."""
    probe = textwrap.dedent(
        f"""
        import importlib, sys
        sys.path.append({str(REPO_ROOT)!r})  # for the tests package only: the app is the asset's
        checks = importlib.import_module("tests.lambda.gateway_checks")
        assert checks.LambdaAdapter.__module__ == "lambda_app.api.gateway"
        assert sys.modules["lambda_app"].__file__.startswith({str(local_asset.task)!r})
        checks.main()
        """
    )
    summary = _run_on_asset(local_asset, probe)
    assert summary["passed"], "no check ran"
    assert summary["eager"] is (tuple(map(int, local_asset.python_version.split("."))) >= (3, 13))

"""The Lambda asset exactly as a real ``cdk synth`` writes it (``cdk.out/asset.<hash>``, the
session's ``prod_synth`` and ``local_synth``, tests/infra/conftest.py), never a build of our own:

- the deploy target (``-c stage=prod``: arm64, CPython 3.13): what is in it, its bytecode, size;
- the local asset (``-c target=local``, this machine's CPU) differs from it only in the
  platform's binaries: same sources, same bytecode, same pure-Python packages. That is what
  makes running the local one here a test of the deployed one;
- the local asset imported and invoked in a clean interpreter of the runtime's version that sees
  nothing but the asset, and the Lambda adapter's checks run on that interpreter.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, LocalAsset, SynthRun

from infra import assembly, bundling
from infra.constructs.compute import RUNTIME_PYTHON_VERSION

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.slow]

# Measured 6.6 MiB (arm64, botocore and bytecode included; docs/deploy.md): a guard against
# growth, not the 5 MiB of an asset without the SDK.
MAX_ZIPPED = 7 * 2**20
TAG = "cpython-" + RUNTIME_PYTHON_VERSION.replace(".", "")


def _locked(name: str) -> str:
    """The version requirements/runtime.txt pins for ``name``."""
    text = (REPO_ROOT / "requirements" / "runtime.txt").read_text()
    found = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE)
    assert found, f"{name} is not in requirements/runtime.txt"
    return found.group(1)


def _assert_contents(asset: Path) -> None:
    assert (asset / "lambda_app" / "main.py").is_file()
    assert (asset / "lambda_app" / "events" / "stream.py").is_file()
    for absent in ("lambda_app/local", "lambda_app/cli.py", "pydantic/v1", "bin"):
        assert not (asset / absent).exists(), f"{absent}: the handler never imports it"
    for forbidden in ("email_validator", "boto3", "s3transfer"):
        assert not (asset / forbidden).exists(), forbidden
        assert not list(asset.glob(f"{forbidden}-*.dist-info")), forbidden
    assert not list(asset.rglob("tests/__init__.py"))
    # Our botocore, the locked one, with the models of the functions' services only.
    assert (asset / f"botocore-{_locked('botocore')}.dist-info").is_dir()
    models = {path.name for path in (asset / "botocore" / "data").iterdir() if path.is_dir()}
    assert models == set(bundling.SDK_SERVICES)
    # Bytecode for every module, for the runtime's version only.
    sources = {p.relative_to(asset) for p in asset.rglob("*.py")}
    compiled = {p.relative_to(asset) for p in asset.rglob("*.pyc")}
    missing = [
        s for s in sources if s.parent / "__pycache__" / f"{s.stem}.{TAG}.pyc" not in compiled
    ]
    assert not missing, f"{len(missing)} modules without {TAG} bytecode, e.g. {missing[:3]}"
    assert all(TAG in p.name for p in compiled), "bytecode for another Python version"


def test_the_deployed_asset(prod_synth: SynthRun) -> None:
    deployed = prod_synth.asset
    assert deployed.runtime == f"python{RUNTIME_PYTHON_VERSION}"
    assert deployed.architecture == "arm64"
    asset = deployed.directory
    _assert_contents(asset)
    (extension,) = (asset / "pydantic_core").glob("_pydantic_core.*.so")
    assert f"{TAG}-aarch64-linux-gnu" in extension.name
    _, zipped = bundling.zipped_size(asset)
    assert zipped <= MAX_ZIPPED, f"{zipped / 2**20:.2f} MiB zipped"


def test_uv_installs_the_interpreter_the_deployed_asset_is_compiled_by(
    prod_synth: SynthRun,
) -> None:
    """prod_synth ran where no Python 3.13 is installed and uv (a fake on PATH) could install one:
    the bundler asked it to, and compiled the asset with what it got (test_infra_bytecode.py has
    the branches where uv fails)."""
    assert f"python install --no-bin {RUNTIME_PYTHON_VERSION}" in prod_synth.uv_calls
    assert not [line for line in prod_synth.stderr.splitlines() if "WARNING: no Python" in line]
    asset = prod_synth.asset.directory
    assert (asset / "lambda_app" / "__pycache__" / f"main.{TAG}.pyc").is_file()
    assert (asset / "botocore" / "__pycache__" / f"client.{TAG}.pyc").is_file()


def _files(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*") if path.is_file()}


def test_the_local_asset_differs_from_the_deployed_one_only_in_platform_binaries(
    local_synth: assembly.FunctionAsset, prod_synth: SynthRun
) -> None:
    local, deployed = local_synth.directory, prod_synth.asset.directory
    assert local != deployed
    _assert_contents(local)
    local_files, deployed_files = _files(local), _files(deployed)
    # Native extensions: the one thing that must differ (their names carry the platform).
    binaries = local_files ^ deployed_files
    assert binaries, "the two assets should differ in their native extensions"
    assert all(p.suffix == ".so" for p in binaries), sorted(binaries)
    native = {p.parts[0] for p in binaries}  # the packages that ship them
    # Everything both have is byte for byte the same (sources, bytecode, pure-Python packages),
    # except the metadata of the distributions whose wheels are platform-specific.
    common = sorted(local_files & deployed_files)
    _, mismatch, errors = filecmp.cmpfiles(local, deployed, [str(p) for p in common], shallow=False)
    assert not errors
    wheel_metadata = {f"{package}-" for package in native}
    unexplained = [
        name
        for name in mismatch
        if not (
            Path(name).parts[0].endswith(".dist-info")
            and any(Path(name).parts[0].startswith(prefix) for prefix in wheel_metadata)
        )
    ]
    assert not unexplained, unexplained
    assert any(Path(p).suffix == ".pyc" for p in common)


def _run_on_asset(local_asset: LocalAsset, probe: str, **env: str) -> Any:
    """Run ``probe`` on the runtime's interpreter, seeing only the asset (as Lambda's /var/task;
    it carries its own SDK); the JSON it printed last."""
    result = subprocess.run(
        # -I: no user site, no PYTHON* variables, no cwd on sys.path; -S: no site-packages;
        # -B: never write bytecode (Lambda's code directory is read-only).
        [
            local_asset.python,
            "-I",
            "-S",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(local_asset.task)!r})\n" + probe,
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
    asset = local_asset.task
    probe = textwrap.dedent(
        f"""
        import importlib.util, json, sys, sysconfig
        import lambda_app.main as main
        assert main.__file__.startswith({str(asset)!r}), main.__file__
        assert main.__cached__ and __import__("os").path.exists(main.__cached__)
        for absent in ("email_validator", "moto", "uvicorn", "boto3", "s3transfer"):
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
        from lambda_app.events import stream  # the stream consumer, same asset
        assert stream.handler({{}}, Context()) == {{"batchItemFailures": []}}
        stream._publisher()  # its EventBridge client, from the asset's botocore
        if importlib.util.find_spec("lambda_app.jobs.expire_reservations") is not None:
            importlib.import_module("lambda_app.jobs.expire_reservations")  # the expiry job
        import botocore
        # Every module loaded came from the asset or the standard library: nothing else ran.
        stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
        outside = sorted(
            name for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None)
            and not module.__file__.startswith(({str(asset)!r}, *stdlib))
        )
        assert not outside, outside
        print(json.dumps({{
            "openapi": document["openapi"], "paths": len(document["paths"]),
            "botocore": botocore.__version__, "botocore_file": botocore.__file__,
        }}))
        """
    )
    summary = _run_on_asset(
        local_asset,
        probe,
        TABLE_NAME="x",
        CURSOR_SECRET="test-cursor-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="order-api",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    assert summary["openapi"].startswith("3.")
    assert summary["paths"] > 0
    assert summary["botocore"] == _locked("botocore")
    assert summary["botocore_file"].startswith(str(asset))


def test_the_lambda_adapter_keeps_its_promises_on_the_runtimes_python(
    local_asset: LocalAsset,
) -> None:
    """tests/lambda/gateway_checks.py on the runtime's interpreter, against the asset's code:
    every asyncio internal the adapter uses on 3.13 runs here (requests as eager tasks; one that
    does not wait must not turn the loop)."""
    assert local_asset.python_version == RUNTIME_PYTHON_VERSION
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
    assert summary["eager"] is True

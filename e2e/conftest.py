import json
import os
import subprocess
import sys
import tempfile
import zipfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def moto():
    endpoint = os.environ.get("KUMOCMS_MOTO_ENDPOINT")
    if not endpoint:
        pytest.fail("KUMOCMS_MOTO_ENDPOINT is not set: run through scripts/test-e2e.sh")
    return endpoint


@pytest.fixture(scope="session")
def apigateway(moto):
    import apigw_shim
    server, url = apigw_shim.start(moto)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def work():
    base = os.environ.get("KUMOCMS_E2E_WORK") or tempfile.mkdtemp(prefix="kumocms-e2e.")
    os.makedirs(base, exist_ok=True)
    return base


@pytest.fixture(scope="session")
def package():
    path = os.environ.get("KUMOCMS_LAMBDA_ZIP", os.path.join(ROOT, "target/lambda/bootstrap/bootstrap.zip"))
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: run scripts/build-lambda.sh")
    return path


@pytest.fixture(scope="session")
def bootstrap(package, work):
    """The binary inside the very zip Terraform deploys."""
    out = os.path.join(work, "bootstrap-bin")
    with zipfile.ZipFile(package) as z:
        names = z.namelist()
        if "bootstrap" not in names:
            pytest.fail(f"{package} has no top-level 'bootstrap' (has {names}); provided.al2023 runs /var/task/bootstrap")
        z.extract("bootstrap", out)
    path = os.path.join(out, "bootstrap")
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def kumocms_client():
    """The `kumocms` binary whose client subcommands (put, get, search, rm) the basic
    example drives over HTTP (scripts/test-e2e.sh builds it and names it)."""
    path = os.environ.get("KUMOCMS_E2E_CLIENT")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"KUMOCMS_E2E_CLIENT ({path!r}) is not an executable kumocms binary: run through scripts/test-e2e.sh")
    return path


@pytest.fixture(scope="session")
def rust_routes():
    """The routes the Rust router serves (`kumocms routes --json`)."""
    path = os.environ.get("KUMOCMS_E2E_ROUTES")
    if path:
        with open(path) as f:
            return json.load(f)
    result = subprocess.run(
        ["cargo", "run", "-q", "-p", "kumocms-cli", "--", "routes", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def tf_env():
    env = dict(os.environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    # Terraform's own AWS credentials must never reach a real account.
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env["AWS_ACCESS_KEY_ID"] = "testing"
    env["AWS_SECRET_ACCESS_KEY"] = "testing"
    return env

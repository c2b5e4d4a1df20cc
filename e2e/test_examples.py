"""End to end: each example applied to moto through its test-only root, the
functions read back from moto and run (the real bootstrap, through a Runtime API
loop) with exactly that handler and environment, then destroyed.

Examples run one after another: they share names (kumocms-prod-*) and the
leftover check compares moto's inventory before and after each one.
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

import deployment as d
from gateway import Gateway
from runtime import Function

ROOT = d.ROOT
FIXTURES = os.path.join(ROOT, "crates/kumocms-lambda/tests/fixtures")
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 1/Kids[3 0 R]>>endobj\n"
       b"3 0 obj<</Type/Page>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
TEXT = b"second revision, plain text\n"
CURRENT_KEY = "e2e-current-" + uuid.uuid4().hex
PREVIOUS_KEY = "e2e-previous-" + uuid.uuid4().hex


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


# --- events, shaped as API Gateway and EventBridge deliver them ------------------------


def rest_event(method, path, body=None, query=None, region="us-east-1", cognito=False):
    event = fixture("apigw-rest-proxy.json")
    resource = path
    params = None
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "documents":
        params = {"id": parts[1]}
        resource = "/documents/{id}" + ("/" + "/".join(parts[2:]) if len(parts) > 2 else "")
    host = f"abcdef123.execute-api.{region}.amazonaws.com"
    event.update({
        "resource": resource, "path": path, "httpMethod": method, "pathParameters": params,
        "body": None if body is None else json.dumps(body),
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
    })
    event["headers"]["Host"] = host
    event["multiValueHeaders"]["Host"] = [host]
    ctx = event["requestContext"]
    ctx.update({"resourcePath": resource, "httpMethod": method, "path": f"/v1{path}",
                "requestId": str(uuid.uuid4()), "domainName": host})
    if cognito:
        ctx["authorizer"] = {"claims": {"sub": "e2e-user", "token_use": "id"}}
    return event


def s3_event(name, bucket, region, key, **detail):
    event = fixture(name)
    event["id"] = str(uuid.uuid4())
    event["region"] = region
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["detail"].update(detail)
    return event


def authorizer_event(value, region):
    event = fixture("apigw-request-authorizer.json")
    event["headers"]["Authorization"] = value
    event["multiValueHeaders"]["Authorization"] = [value]
    event["methodArn"] = event["methodArn"].replace("us-east-1", region)
    return event


# --- the api function as a client sees it -----------------------------------------------


class Api:
    def __init__(self, function, region, cognito=False):
        self.function = function
        self.region = region
        self.cognito = cognito

    def call(self, method, path, body=None, query=None, expect=None):
        response = self.function.respond(rest_event(method, path, body, query, self.region, self.cognito))
        status = response.get("statusCode")
        text = response.get("body") or ""
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if expect is not None:
            assert status == expect, f"{method} {path} through {self.function.describe}: {status} {text[:800]}"
        return status, parsed, response


def upload(link, content):
    r = requests.request(link["method"], link["url"], data=content, headers=link.get("headers") or {}, timeout=30)
    assert r.ok, f"upload through the presigned link: {r.status_code} {r.text[:500]}"
    path = urllib.parse.urlparse(link["url"]).path.lstrip("/")
    bucket, key = path.split("/", 1)
    return bucket, urllib.parse.unquote(key)


def download(response):
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    location = headers.get("location")
    if not location:
        multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
        location = (multi.get("location") or [None])[0]
    assert response["statusCode"] == 307 and location, f"content: expected a 307 redirect, got {response}"
    r = requests.get(location, timeout=30)
    assert r.ok, f"download link: {r.status_code} {r.text[:300]}"
    return r.content


def deliver(events, bucket, region, key, name="eventbridge-s3-object-created.json", **detail):
    body = events.respond(s3_event(name, bucket, region, key, **detail))
    return body.get("outcome") if isinstance(body, dict) else body


# --- a deployment under test -----------------------------------------------------------------


class Deployed:
    """What one region of an applied example has, read back from moto and checked."""

    def __init__(self, moto, region, rust_routes, peers=()):
        self.moto = moto
        self.region = region
        self.fns = d.functions(moto, region)
        assert "api" in self.fns, f"no api function in {region}: {sorted(self.fns)}"
        self.env = {}
        for role, config in self.fns.items():
            self.env[role] = d.check_function(moto, region, role, config)
        for role, config in self.fns.items():
            # A role shared by several functions (power-user mode) may hold what
            # each of them calls.
            sharing = [r for r, c in self.fns.items() if c["Role"] == config["Role"]]
            d.check_iam(moto, region, role, config, peers=peers if role == "api" else (), sharing=sharing)
        self.bucket = self.env["api"]["S3_BUCKET_NAME"]
        self.table = self.env["api"]["DYNAMODB_TABLE_NAME"]
        d.check_rules(moto, region, self.fns, self.bucket)
        self.rest_api = d.check_routes(moto, region, rust_routes, api_env=self.env["api"])
        self.bucket_cors = d.check_web_ui_and_cors(moto, region, self.rest_api, self.bucket, self.env["api"])
        self.running = {}

    def start(self, bootstrap, role, log_dir):
        config = self.fns[role]
        f = Function(bootstrap, config["FunctionName"], config["Handler"],
                     config.get("Environment", {}).get("Variables", {}), self.region, self.moto, log_dir)
        self.running[role] = f
        return f

    def stop(self):
        for f in self.running.values():
            f.stop()
        self.running = {}


def lifecycle(api, events, bucket, region, replicate=lambda: None, other=None):
    """The document lifecycle through the api and events functions."""
    _, created, _ = api.call("POST", "/documents", {
        "file_name": "e2e report.pdf", "file_size": len(PDF), "content_type": "application/pdf",
        "document_type": "e2e-contract", "metadata": {"owner": "e2e"}}, expect=201)
    doc_id = created["document_id"]
    up_bucket, key = upload(created["upload"], PDF)
    assert up_bucket == bucket, f"the upload link writes to {up_bucket}, the function's bucket is {bucket}"
    assert deliver(events, bucket, region, key) == "applied"

    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["status"] == "active", got
    _, page, _ = api.call("GET", "/documents", query={"type": "e2e-contract"}, expect=200)
    assert doc_id in [x["document_id"] for x in page["documents"]], page
    _, _, raw = api.call("GET", f"/documents/{doc_id}/content")
    assert download(raw) == PDF, "downloaded bytes differ from the uploaded ones"

    _, patched, _ = api.call("PATCH", f"/documents/{doc_id}", {"metadata": {"owner": "e2e", "stage": "patched"}}, expect=200)
    assert patched["metadata"]["stage"] == "patched", patched

    _, replaced, _ = api.call("PUT", f"/documents/{doc_id}", {"file_size": len(TEXT), "content_type": "text/plain"}, expect=200)
    _, key2 = upload(replaced["upload"], TEXT)
    assert deliver(events, bucket, region, key2) == "applied"
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["revision"] == 2 and got["status"] == "active", got
    _, _, raw = api.call("GET", f"/documents/{doc_id}/content")
    assert download(raw) == TEXT, "the replaced content is not what is served"

    # Revisions: the replaced content is kept, listed, readable and restorable.
    _, revisions, _ = api.call("GET", f"/documents/{doc_id}/revisions", expect=200)
    assert [(r["revision"], r["current"]) for r in revisions["revisions"]] == [(2, True), (1, False)], revisions
    _, _, raw = api.call("GET", f"/documents/{doc_id}/revisions/1/content")
    assert download(raw) == PDF, "revision 1 does not serve the replaced bytes"
    api.call("GET", f"/documents/{doc_id}/revisions/0", expect=400)
    api.call("GET", f"/documents/{doc_id}/revisions/9", expect=404)
    _, restoring, _ = api.call("POST", f"/documents/{doc_id}/revisions/1/restore", expect=202)
    assert restoring["pending_upload"]["revision"] == 3, restoring
    key3 = f"documents/{doc_id}/r3"
    assert deliver(events, bucket, region, key3) == "applied", "the copy S3 made is promoted like an upload"
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["revision"] == 3 and got["extracted"]["sha256"] == hashlib.sha256(PDF).hexdigest(), got
    _, _, raw = api.call("GET", f"/documents/{doc_id}/content")
    assert download(raw) == PDF, "the restored revision serves other bytes"

    if other is not None:
        # Multi-region: the second region's api function serves the document.
        replicate()
        _, there, _ = other.call("GET", f"/documents/{doc_id}", expect=200)
        assert there["revision"] == 3, there
        _, _, raw = other.call("GET", f"/documents/{doc_id}/content")
        assert download(raw) == PDF, "the other region served different bytes"

    api.call("POST", f"/documents/{doc_id}/archive", {"storage_class": "GLACIER"}, expect=202)
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["status"] == "archived", got
    status, _, _ = api.call("GET", f"/documents/{doc_id}/content")
    assert status == 409, f"an archived document's content must not be served ({status})"

    api.call("POST", f"/documents/{doc_id}/restore", {"days": 1}, expect=202)
    until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert deliver(events, bucket, region, key3, "eventbridge-s3-restore-completed.json",
                   **{"restore-expiry-time": until}) == "applied"
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["status"] == "restored", got
    _, _, raw = api.call("GET", f"/documents/{doc_id}/content")
    assert download(raw) == PDF, "the restored content differs"

    # The trash: delete, undelete, then a permanent delete.
    api.call("DELETE", f"/documents/{doc_id}", expect=204)
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert got["status"] == "deleted" and got["purge_at"], got
    api.call("GET", f"/documents/{doc_id}/content", expect=409)
    _, page, _ = api.call("GET", "/documents", query={"status": "deleted"}, expect=200)
    assert doc_id in [x["document_id"] for x in page["documents"]], page
    _, got, _ = api.call("POST", f"/documents/{doc_id}/undelete", expect=200)
    assert got["status"] == "archived", got
    api.call("POST", f"/documents/{doc_id}/undelete", expect=409)
    api.call("DELETE", f"/documents/{doc_id}", query={"permanent": "true"}, expect=204)
    api.call("GET", f"/documents/{doc_id}", expect=404)
    return doc_id


MIB = 1024 * 1024


def multipart_flow(api, events, moto, bucket, region):
    """Issue 12 on a module-made stack: a document of 3 parts of 5 MiB through S3
    multipart (part links presigned to moto, the API calls through the api function),
    sent out of order and resumed after listing the parts received; then a second
    upload (a new revision) aborted, leaving the current content and no upload behind."""
    part = 5 * MIB
    content = os.urandom(3 * part)
    digest = hashlib.sha256(content).hexdigest()
    _, created, _ = api.call("POST", "/documents", {
        "file_name": "e2e multipart.bin", "file_size": len(content), "content_type": "application/octet-stream",
        "checksum_sha256": digest, "upload_mode": "multipart", "part_size": part,
        "document_type": "e2e-multipart"}, expect=201)
    doc_id = created["document_id"]
    up = created["upload"]
    assert (up["mode"], up["part_size"], up["part_count"]) == ("multipart", part, 3), up
    uploads = f"/documents/{doc_id}/uploads/{urllib.parse.quote(up['upload_id'], safe='')}"

    # Parts 3 and 1 are sent, then the client "stops": a new run lists what arrived.
    _, signed, _ = api.call("POST", f"{uploads}/parts", {"part_numbers": [3, 1]}, expect=200)
    links = {p["part_number"]: p for p in signed["parts"]}
    assert sorted(links) == [1, 3] and all(p["size"] == part for p in links.values()), signed
    for n in (3, 1):
        up_bucket, _ = upload(links[n], content[(n - 1) * part:n * part])
        assert up_bucket == bucket, f"the part link writes to {up_bucket}, the function's bucket is {bucket}"
    _, listed, _ = api.call("GET", f"{uploads}/parts", expect=200)
    assert [(p["part_number"], p["size"]) for p in listed["parts"]] == [(1, part), (3, part)], listed
    status, refused, _ = api.call("POST", f"{uploads}/complete", {})
    assert status == 409 and refused["error"] == "missing_parts", (status, refused)
    missing = sorted(set(range(1, listed["part_count"] + 1)) - {p["part_number"] for p in listed["parts"]})
    assert missing == [2], listed
    _, signed, _ = api.call("POST", f"{uploads}/parts", {"part_numbers": missing}, expect=200)
    upload(signed["parts"][0], content[part:2 * part])
    api.call("POST", f"{uploads}/complete", {}, expect=202)

    # S3 joined the parts; its Object Created event makes them current.
    s3 = d.client(moto, "s3", region)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=f"documents/{doc_id}/").get("Contents", [])
    assert [o["Size"] for o in objects] == [len(content)], f"after complete: {objects}"
    assert deliver(events, bucket, region, objects[0]["Key"]) == "applied"
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert (got["status"], got["size"], got["checksum_sha256"]) == ("active", len(content), digest), got
    _, _, raw = api.call("GET", f"/documents/{doc_id}/content")
    assert hashlib.sha256(download(raw)).hexdigest() == digest, "the joined parts are not the bytes sent"

    # Abort: a new revision's multipart upload with one part sent.
    _, replacing, _ = api.call("PUT", f"/documents/{doc_id}", {
        "file_size": len(content), "content_type": "application/octet-stream",
        "upload_mode": "multipart", "part_size": part}, expect=200)
    up2 = replacing["upload"]
    assert up2["mode"] == "multipart" and up2["upload_id"] != up["upload_id"], up2
    uploads2 = f"/documents/{doc_id}/uploads/{urllib.parse.quote(up2['upload_id'], safe='')}"
    _, signed, _ = api.call("POST", f"{uploads2}/parts", {"part_numbers": [1]}, expect=200)
    upload(signed["parts"][0], content[:part])
    api.call("DELETE", uploads2, expect=204)
    status, gone, _ = api.call("GET", f"{uploads2}/parts")
    assert status == 404 and gone["error"] == "upload_not_found", (status, gone)
    left = s3.list_multipart_uploads(Bucket=bucket, Prefix=f"documents/{doc_id}/").get("Uploads", [])
    assert not left, f"the aborted upload is still in {bucket}: {left}"
    _, got, _ = api.call("GET", f"/documents/{doc_id}", expect=200)
    assert (got["revision"], got["status"], got["checksum_sha256"]) == (1, "active", digest), got

    api.call("DELETE", f"/documents/{doc_id}", query={"permanent": "true"}, expect=204)
    check_bucket_empty_of(moto, bucket, doc_id)


def client_flow(binary, dep, api_fn, authorizer_fn, events, work):
    """Issue 14 on a module-made stack: the `kumocms` client over HTTP (gateway.py, in
    front of the api function and the REQUEST authorizer, as API Gateway is) for
    put -> get -> search -> rm, with a wrong key refused first."""
    _, routes = d.api_routes(dep.moto, dep.region)
    stages = d.client(dep.moto, "apigateway", dep.region).get_stages(restApiId=dep.rest_api["id"])["item"]
    assert len(stages) == 1, stages
    front = Gateway(routes, stages[0]["stageName"], dep.region, api_fn, authorizer_fn,
                       fixture("apigw-rest-proxy.json"), fixture("apigw-request-authorizer.json"))
    home = os.path.join(work, "client-home")
    os.makedirs(home, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, "config"),
           "XDG_CACHE_HOME": os.path.join(home, "cache"), "KUMOCMS_URL": front.url, "KUMOCMS_API_KEY": CURRENT_KEY}

    def kumocms(*args, expect=0, key=CURRENT_KEY):
        result = subprocess.run([binary, *args], env={**env, "KUMOCMS_API_KEY": key}, cwd=home,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == expect, (
            f"kumocms {' '.join(args)}: exit {result.returncode} (expected {expect})\n"
            f"stdout: {result.stdout[-1500:]}\nstderr: {result.stderr[-1500:]}")
        return json.loads(result.stdout) if "--json" in args and expect == 0 else result

    try:
        refused = kumocms("ls", "--json", expect=4, key="not-the-key")
        assert "API key was refused" in refused.stderr, refused.stderr

        word = "quokka" + uuid.uuid4().hex[:8]
        text = f"client e2e through the gateway front: {word} {word}\n".encode()
        path = os.path.join(home, "e2e client note.txt")
        with open(path, "wb") as f:
            f.write(text)
        put = kumocms("put", path, "--type", "e2e-client", "--meta", "owner=e2e", "--json")
        assert len(put) == 1 and put[0]["file_name"] == "e2e client note.txt", put
        doc = put[0]
        doc_id = doc["document_id"]
        assert doc["document_type"] == "e2e-client" and doc["metadata"] == {"owner": "e2e"}, doc
        # S3's Object Created event, as EventBridge would deliver it.
        objects = d.client(dep.moto, "s3", dep.region).list_objects_v2(
            Bucket=dep.bucket, Prefix=f"documents/{doc_id}/").get("Contents", [])
        assert [o["Size"] for o in objects] == [len(text)], objects
        assert deliver(events, dep.bucket, dep.region, objects[0]["Key"]) == "applied"

        out = os.path.join(home, "downloaded.txt")
        got = kumocms("get", doc_id, "-o", out, "--json")
        assert got["status"] == "active" and got["checksum_sha256"] == hashlib.sha256(text).hexdigest(), got
        with open(out, "rb") as f:
            assert f.read() == text, "kumocms get wrote other bytes"

        found = kumocms("search", word, "--json")
        assert [x["document_id"] for x in found["documents"]] == [doc_id], found

        trashed = kumocms("rm", doc_id, "--json")
        assert trashed["status"] == "deleted" and trashed["purge_at"], trashed
        purged = kumocms("rm", doc_id, "--permanent", "--json")
        assert purged == {"document_id": doc_id, "purged": True}, purged
        kumocms("show", doc_id, expect=2)
        check_bucket_empty_of(dep.moto, dep.bucket, doc_id)
        through = set(front.calls)
        for call in (("POST", "/documents"), ("GET", "/documents/{id}"), ("GET", "/documents"), ("DELETE", "/documents/{id}")):
            assert call in through, f"the client never called {call} through the front: {sorted(through)}"
    finally:
        front.stop()


def check_bucket_empty_of(moto, bucket, doc_id):
    s3 = d.client(moto, "s3", "us-east-1")
    listed = s3.list_object_versions(Bucket=bucket, Prefix=f"documents/{doc_id}")
    left = [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
    assert not left, f"delete left versions in {bucket}: {left}"


def check_authorizer(fn, region):
    for value, key in ((f"Bearer {CURRENT_KEY}", "current"), (f"Bearer {PREVIOUS_KEY}", "previous")):
        body = fn.respond(authorizer_event(value, region))
        assert body["policyDocument"]["Statement"][0]["Effect"] == "Allow", body
        assert body["context"]["key"] == key, body
    kind, body, _ = fn.invoke(authorizer_event("Bearer not-the-key", region))
    assert kind == "error" and body.get("errorMessage") == "Unauthorized", (kind, body)


def check_dlq(fn):
    body = fn.respond(fixture("eventbridge-scheduled.json"))
    assert isinstance(body, dict) and "received" in body, f"dlq summary: {body}"


# --- pre-existing resources the examples take as inputs (not the module's) ---------------


def create_secret(moto, region):
    sm = d.client(moto, "secretsmanager", region)
    return sm.create_secret(
        Name=f"kumocms/e2e-api-keys-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"api_key": CURRENT_KEY, "api_key_previous": PREVIOUS_KEY}),
    )["ARN"]


def delete_secret(moto, region, arn):
    d.client(moto, "secretsmanager", region).delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def run_example(example, moto, work, regions, variables, body, pre=None, post=None):
    """Inventory, apply, body(outputs), destroy; then nothing the module made is left."""
    before = d.inventory(moto, regions)
    root = d.Root(example, work, moto, pytest.tf_env, pytest.apigateway)
    if pre:
        pre(root)
    root.init()
    error = None
    try:
        root.apply(variables)
        body(root)
    except BaseException as e:  # noqa: BLE001 - destroy whatever happened
        error = e
    try:
        root.destroy(variables)
    except AssertionError as e:
        if error is None:
            error = e
        else:
            print(f"(destroy after the failure also failed: {e})")
    if post:
        post()
    if error is not None:
        raise error
    left = sorted(d.inventory(moto, regions) - before)
    assert not left, f"terraform destroy of examples/{example} left in moto: " + ", ".join(f"{k} {n}" for k, n in left)


def api_key_flow(dep, bootstrap, log_dir, region, replicate=lambda: None, other=None, extra=None):
    """The lifecycle, the authorizer and the dlq function on one deployment; `extra`
    (basic only, to keep the suite's time down) gets (api, events function,
    authorizer function) for more checks while they run."""
    restore = d.suspend_tls_only_policy(dep.moto, dep.bucket)
    api_fn = dep.start(bootstrap, "api", log_dir)
    events_fn = dep.start(bootstrap, "events", log_dir)
    try:
        api = Api(api_fn, region)
        api.call("GET", "/healthcheck", expect=200)
        doc_id = lifecycle(api, events_fn, dep.bucket, region, replicate, other)
        check_bucket_empty_of(dep.moto, dep.bucket, doc_id)
        authorizer_fn = None
        if "authorizer" in dep.fns:
            authorizer_fn = dep.start(bootstrap, "authorizer", log_dir)
            check_authorizer(authorizer_fn, region)
        if extra is not None:
            extra(api, events_fn, authorizer_fn)
        if "dlq" in dep.fns:
            check_dlq(dep.start(bootstrap, "dlq", log_dir))
    finally:
        dep.stop()
        restore()


@pytest.fixture(autouse=True)
def _tf_env(tf_env, apigateway):
    pytest.tf_env = tf_env
    pytest.apigateway = apigateway


def logs_dir(work, example):
    path = os.path.join(work, example, "logs")
    os.makedirs(path, exist_ok=True)
    return path


def test_basic(moto, work, package, bootstrap, rust_routes, kumocms_client):
    region = "us-east-1"
    secret = create_secret(moto, region)
    variables = {"lambda_deployment_package_path": package, "api_authorizer_secrets_arn": secret}

    def body(root):
        out = root.outputs()
        dep = Deployed(moto, region, rust_routes)
        assert out["s3_bucket_name"] == dep.bucket and out["dynamodb_table_name"] == dep.table, out
        assert set(dep.fns) == {"api", "authorizer", "events", "dlq"}, sorted(dep.fns)
        assert dep.env["authorizer"]["SECRETS_ARN"] == secret
        # The web interface (on by default): open /ui routes, its origin in the
        # bucket's CORS rule; no CORS origins, so no preflights (Deployed checked
        # them against the environment; these pin the basic example's values).
        assert dep.env["api"]["KUMOCMS_WEB_UI"] == "true" and "KUMOCMS_CORS_ALLOWED_ORIGINS" not in dep.env["api"], dep.env["api"]
        _, gateway = d.api_routes(moto, region)
        assert gateway[("GET", "/ui")] == "NONE" and gateway[("GET", "/ui/{proxy+}")] == "NONE", gateway
        assert not [k for k in gateway if k[0] == "OPTIONS"], gateway
        ui_origin = f"https://{dep.rest_api['id']}.execute-api.{region}.amazonaws.com"
        assert [r["AllowedOrigins"] for r in dep.bucket_cors] == [[ui_origin]], dep.bucket_cors
        assert out["web_ui_url"].endswith("/ui/"), out
        authorizers = d.client(moto, "apigateway", region).get_authorizers(restApiId=dep.rest_api["id"])["items"]
        assert [a["type"] for a in authorizers] == ["REQUEST"], authorizers
        assert dep.fns["authorizer"]["FunctionName"] in authorizers[0]["authorizerUri"], authorizers
        log_dir = logs_dir(work, "basic")

        def more(api, events_fn, authorizer_fn):
            started = time.monotonic()
            multipart_flow(api, events_fn, moto, dep.bucket, region)
            print(f"basic: multipart upload, resume and abort: {time.monotonic() - started:.1f}s")
            started = time.monotonic()
            client_flow(kumocms_client, dep, api.function, authorizer_fn, events_fn, os.path.join(work, "basic"))
            print(f"basic: kumocms put, get, search, rm over HTTP: {time.monotonic() - started:.1f}s")

        api_key_flow(dep, bootstrap, log_dir, region, extra=more)

    run_example("basic", moto, work, [region], variables, body, post=lambda: delete_secret(moto, region, secret))


def test_cognito_new_pool(moto, work, package, bootstrap, rust_routes):
    region = "us-east-1"
    variables = {"lambda_deployment_package_path": package}

    def body(root):
        out = root.outputs()
        dep = Deployed(moto, region, rust_routes)
        assert "authorizer" not in dep.fns, "Cognito auth deploys no authorizer function"
        assert "SECRETS_ARN" not in dep.env["api"], dep.env["api"]
        idp = d.client(moto, "cognito-idp", region)
        pool = idp.describe_user_pool(UserPoolId=out["cognito_user_pool_id"])["UserPool"]
        clients = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
        assert out["cognito_app_client_id"] in [c["ClientId"] for c in clients], clients
        authorizers = d.client(moto, "apigateway", region).get_authorizers(restApiId=dep.rest_api["id"])["items"]
        assert [a["type"] for a in authorizers] == ["COGNITO_USER_POOLS"], authorizers
        assert authorizers[0]["providerARNs"] == [pool["Arn"]], (authorizers, pool["Arn"])
        # The example allows https://app.example.com (cors_allowed_origins): open
        # preflights, API Gateway's 401/403/4xx/5xx with its CORS header, the
        # bucket's rule for it and the interface's origin (read back by Deployed;
        # pinned here to the example's values).
        assert dep.env["api"]["KUMOCMS_CORS_ALLOWED_ORIGINS"] == "https://app.example.com", dep.env["api"]
        _, gateway = d.api_routes(moto, region)
        assert gateway[("OPTIONS", "/documents/{id}")] == "NONE" and gateway[("GET", "/ui/{proxy+}")] == "NONE", gateway
        assert gateway[("GET", "/documents/{id}")] == "COGNITO_USER_POOLS", gateway
        apigw = d.client(moto, "apigateway", region)
        unauthorized = apigw.get_gateway_response(restApiId=dep.rest_api["id"], responseType="UNAUTHORIZED")
        assert unauthorized["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://app.example.com'", unauthorized
        assert set(dep.bucket_cors[0]["AllowedOrigins"]) == {"https://app.example.com", f"https://{dep.rest_api['id']}.execute-api.{region}.amazonaws.com"}, dep.bucket_cors
        assert "ETag" in dep.bucket_cors[0]["ExposeHeaders"], dep.bucket_cors
        # Sign-in through the hosted UI: the api function knows the domain and client,
        # and Cognito will send the browser back to the interface's page.
        assert dep.env["api"]["KUMOCMS_COGNITO_CLIENT_ID"] == out["cognito_app_client_id"], dep.env["api"]
        assert dep.env["api"]["KUMOCMS_COGNITO_DOMAIN"] == out["cognito_domain"], (dep.env["api"], out)
        app_client = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=out["cognito_app_client_id"])["UserPoolClient"]
        assert out["web_ui_url"] in app_client["CallbackURLs"], (app_client["CallbackURLs"], out["web_ui_url"])
        restore = d.suspend_tls_only_policy(moto, dep.bucket)
        try:
            api = Api(dep.start(bootstrap, "api", logs_dir(work, "cognito-new-pool")), region, cognito=True)
            events = dep.start(bootstrap, "events", logs_dir(work, "cognito-new-pool"))
            api.call("GET", "/healthcheck", expect=200)
            doc_id = lifecycle(api, events, dep.bucket, region)
            check_bucket_empty_of(moto, dep.bucket, doc_id)
            if "dlq" in dep.fns:
                check_dlq(dep.start(bootstrap, "dlq", logs_dir(work, "cognito-new-pool")))
        finally:
            dep.stop()
            restore()

    run_example("cognito-new-pool", moto, work, [region], variables, body)


def test_private_power_user(moto, work, package, bootstrap, rust_routes):
    region = "us-east-1"
    secret = create_secret(moto, region)
    ec2 = d.client(moto, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    vpce = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{region}.execute-api", VpcEndpointType="Interface",
        SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
    variables = {"lambda_deployment_package_path": package, "api_authorizer_secrets_arn": secret,
                 "vpc_endpoint_id": vpce}

    def body(root):
        out = root.outputs()
        dep = Deployed(moto, region, rust_routes)
        assert out["vpc_endpoint_id"] == vpce, out
        api = d.client(moto, "apigateway", region).get_rest_api(restApiId=dep.rest_api["id"])
        assert api["endpointConfiguration"]["types"] == ["PRIVATE"], api["endpointConfiguration"]
        assert vpce in json.dumps(api.get("policy", "")).replace("\\", ""), f"the private API's policy does not name {vpce}: {api.get('policy')}"
        api_key_flow(dep, bootstrap, logs_dir(work, "private-power-user"), region)

    def post():
        ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
        ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)
        delete_secret(moto, region, secret)

    run_example("private-power-user", moto, work, [region], variables, body, post=post)


def create_replica_stand_in(moto, table, source, region):
    """moto keeps regions apart and has no global tables: the example runs with
    dynamodb_replica_regions = [] and the suite stands in for the replica, a
    table of the same name and schema in the second region that it keeps in sync
    (`replicate`) before the second region reads."""
    desc = d.client(moto, "dynamodb", source).describe_table(TableName=table)["Table"]
    spec = {
        "TableName": table,
        "KeySchema": desc["KeySchema"],
        "AttributeDefinitions": desc["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if desc.get("GlobalSecondaryIndexes"):
        spec["GlobalSecondaryIndexes"] = [
            {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in desc["GlobalSecondaryIndexes"]]
    d.client(moto, "dynamodb", region).create_table(**spec)

    def replicate():
        src = d.client(moto, "dynamodb", source)
        dst = d.client(moto, "dynamodb", region)
        keys = [k["AttributeName"] for k in desc["KeySchema"]]
        items = [i for p in src.get_paginator("scan").paginate(TableName=table) for i in p["Items"]]
        present = [i for p in dst.get_paginator("scan").paginate(TableName=table) for i in p["Items"]]
        for item in present:
            dst.delete_item(TableName=table, Key={k: item[k] for k in keys})
        for item in items:
            dst.put_item(TableName=table, Item=item)
    return replicate


def test_multi_region(moto, work, package, bootstrap, rust_routes):
    a, b = "us-east-1", "eu-west-1"
    secrets = {a: create_secret(moto, a), b: create_secret(moto, b)}
    variables = {
        "lambda_deployment_package_path": package,
        "api_authorizer_secrets_arn_us_east_1": secrets[a],
        "api_authorizer_secrets_arn_eu_west_1": secrets[b],
        "dynamodb_replica_regions": [],
    }
    made = {}

    def body(root):
        out = root.outputs()
        table = out["dynamodb_table_name"]
        replicate = create_replica_stand_in(moto, table, a, b)
        made["replica"] = table
        fns_b = d.functions(moto, b)
        fns_a = d.functions(moto, a)
        bucket = {a: fns_a["api"]["Environment"]["Variables"]["S3_BUCKET_NAME"],
                  b: fns_b["api"]["Environment"]["Variables"]["S3_BUCKET_NAME"]}
        dep_a = Deployed(moto, a, rust_routes, peers=[bucket[b]])
        dep_b = Deployed(moto, b, rust_routes, peers=[bucket[a]])
        assert dep_a.table == dep_b.table == table, (dep_a.table, dep_b.table, table)
        assert dep_a.bucket != dep_b.bucket
        log_dir = logs_dir(work, "multi-region")
        restore_b = d.suspend_tls_only_policy(moto, dep_b.bucket)
        try:
            other = Api(dep_b.start(bootstrap, "api", log_dir), b)
            check_authorizer(dep_b.start(bootstrap, "authorizer", log_dir), b)
            api_key_flow(dep_a, bootstrap, log_dir, a, replicate=replicate, other=other)
        finally:
            dep_b.stop()
            restore_b()

    def post():
        if made.get("replica"):
            d.client(moto, "dynamodb", b).delete_table(TableName=made["replica"])
        for region, arn in secrets.items():
            delete_secret(moto, region, arn)

    run_example("multi-region", moto, work, [a, b], variables, body, post=post)


# --- the published module README's multi-region example, applied verbatim ------------------

PUBLISHED_TABLE = "kumocms-prod-global-metadata"
PUBLISHED_SECRET = "kumocms/api-keys"


def create_prerequisite_table(moto, region, table):
    """The table the published README lists as a prerequisite, with its "Required
    table schema": PK/SK, DocumentTypeIndex (documentType, uploadedAt), streams, TTL."""
    ddb = d.client(moto, "dynamodb", region)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("PK", "SK", "documentType", "uploadedAt")],
        GlobalSecondaryIndexes=[{
            "IndexName": "DocumentTypeIndex",
            "KeySchema": [{"AttributeName": "documentType", "KeyType": "HASH"},
                          {"AttributeName": "uploadedAt", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})


def test_published_multi_region(moto, work, package, bootstrap, rust_routes):
    """The "Multi-Region Deployment Example" of the published terraform-aws-kumocms-regional
    README (e2e/roots/published-multi-region/main.tf, verbatim but for `source`), applied
    once its prerequisites exist: the global table in both regions (moto has no global
    tables: one table of that name per region, kept in sync by the suite), the secret
    `kumocms/api-keys` in each region, named in the example by its partial ARN, and the
    package at ./lambda/kumocms-lambda.zip. With create_dynamodb_table defaulting to true
    the apply failed with "ResourceInUseException: Table already exists"."""
    a, b = "us-east-1", "eu-west-1"
    secrets = {}
    tables = []
    try:
        for region in (a, b):
            secrets[region] = d.client(moto, "secretsmanager", region).create_secret(
                Name=PUBLISHED_SECRET,
                SecretString=json.dumps({"api_key": CURRENT_KEY, "api_key_previous": PREVIOUS_KEY}),
            )["ARN"]
            create_prerequisite_table(moto, region, PUBLISHED_TABLE)
            tables.append(region)
    except BaseException:
        for region in tables:
            d.client(moto, "dynamodb", region).delete_table(TableName=PUBLISHED_TABLE)
        for region, arn in secrets.items():
            delete_secret(moto, region, arn)
        raise

    def place_package(root):
        os.makedirs(os.path.join(root.dir, "lambda"), exist_ok=True)
        shutil.copy(package, os.path.join(root.dir, "lambda", "kumocms-lambda.zip"))

    def body(root):
        fns = {r: d.functions(moto, r) for r in (a, b)}
        for region in (a, b):
            assert set(fns[region]) == {"api", "authorizer", "events", "dlq"}, (region, sorted(fns[region]))
            # The example names the secret by its partial ARN, as the published README does.
            assert fns[region]["authorizer"]["Environment"]["Variables"]["SECRETS_ARN"] == \
                f"arn:aws:secretsmanager:{region}:{d.ACCOUNT}:secret:{PUBLISHED_SECRET}"
        # Deployed() checks every role against the secret's full ARN (what IAM matches).
        dep_a = Deployed(moto, a, rust_routes)
        dep_b = Deployed(moto, b, rust_routes)
        assert dep_a.table == dep_b.table == PUBLISHED_TABLE, (dep_a.table, dep_b.table)
        assert (dep_a.bucket, dep_b.bucket) == ("kumocms-prod-documents-us-east-1", "kumocms-prod-documents-eu-west-1")
        log_dir = logs_dir(work, "published-multi-region")
        try:
            check_authorizer(dep_b.start(bootstrap, "authorizer", log_dir), b)
        finally:
            dep_b.stop()
        # The example grants no peer bucket, so each region serves what it stores:
        # the lifecycle runs in us-east-1 against the prerequisite table.
        api_key_flow(dep_a, bootstrap, log_dir, a)

    def post():
        for region in (a, b):
            d.client(moto, "dynamodb", region).delete_table(TableName=PUBLISHED_TABLE)
        for region, arn in secrets.items():
            delete_secret(moto, region, arn)

    run_example("published-multi-region", moto, work, [a, b], {}, body, pre=place_package, post=post)

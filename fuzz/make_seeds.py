#!/usr/bin/env python3
"""Writes the committed seed corpus (fuzz/corpus/<target>/seed-*): real-shaped
inputs for each target, including genuinely signed links and cursors (the fuzz
targets use fixed keys). Run from fuzz/: python3 make_seeds.py"""
import base64, hashlib, hmac, json, os
from urllib.parse import quote


def w(target, name, data):
    d = f"corpus/{target}"
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{d}/seed-{name}", "wb") as f:
        f.write(data)


ID = "01HZX3J6Q8M4N2P5R7S9T1V3W5"
SHA = hashlib.sha256(b"hello world\n").hexdigest()

# api_request: route byte, selector byte, body (or query string)
create = {"file_name": "report.pdf", "file_size": 1024, "content_type": "application/pdf",
          "checksum_sha256": SHA, "document_type": "invoice", "metadata": {"author": "Ada", "tags": ["a", "b"]}}
w("api_request", "create", b"\x00\x00" + json.dumps(create).encode())
w("api_request", "create-system-fields", b"\x00\x00" + json.dumps(
    {"file_name": "a", "file_size": 1, "status": "active", "metadata": {"document_id": ID, "version": 9}}).encode())
w("api_request", "create-float-size", b"\x00\x04" +
  b'{"file_name":"x.meta.json","file_size":5.0,"content_type":"text/plain; charset=\\"utf-8\\""}')
w("api_request", "list", b"\x01\x00type=invoice&status=active&limit=2")
w("api_request", "get", b"\x02\x01")
w("api_request", "replace", b"\x03\x01" + json.dumps(
    {"file_size": 11, "content_type": "text/plain", "file_name": "v2.txt", "checksum_sha256": SHA}).encode())
w("api_request", "patch-if-match", b"\x04\x11" + json.dumps(
    {"metadata": {"author": None, "nested": {"c": 1}}, "document_type": "memo"}).encode())
w("api_request", "delete", b"\x05\x00")
w("api_request", "content", b"\x06\x01")
w("api_request", "archive", b"\x07\x01" + json.dumps({"storage_class": "DEEP_ARCHIVE"}).encode())
w("api_request", "restore", b"\x08\x02" + json.dumps({"days": 3, "tier": "Expedited"}).encode())
w("api_request", "restore-null", b"\x08\x02null")
w("api_request", "cursor", b"\x09\x00limit=1")
w("api_request", "raw-id", b"\x02\x03..%2F..%2Fetc\n")

# validate
for n, s in [("name", "report.pdf"), ("ctype", 'text/plain; charset="utf-8"'), ("sha", SHA.upper()),
             ("type", "invoice-2024"), ("metadata", json.dumps({"author": "Ada", "nested": {"a": None, "b": [1, 2]}})),
             ("traverse", "../etc/passwd"), ("size", b"\x00\x04\x00\x00\x00\x00\x00\x00")]:
    w("validate", n, s)

# signed_link: the signer key is [7; 32]; canonical fields as kumocms_local::signer writes them
KEY = bytes([7] * 32)


def field(v):
    return b"~\n" if v is None else f"{len(v.encode())}:".encode() + v.encode() + b"\n"


def sig(method, key, expires, ctype, length, sha, name):
    c = b"".join(field(x) for x in ["kumocms-blob-link-v1", method, key, str(expires), ctype, length, sha, name])
    return base64.urlsafe_b64encode(hmac.new(KEY, c, hashlib.sha256).digest()).rstrip(b"=").decode()


k = f"documents/{ID}/r1"
exp = 1_900_000_000
s = sig("PUT", k, exp, "text/plain", "12", SHA, None)
w("signed_link", "upload", b"\x00" + f"{k}?expires={exp}&length=12&type=text%2Fplain&sha256={SHA}&sig={s}".encode())
name = "Rapport d'été.pdf"
s = sig("GET", k, exp, "application/pdf", None, None, name)
qname = quote(name, safe="")
w("signed_link", "download", b"\x01" + f"{k}?expires={exp}&type=application%2Fpdf&name={qname}&sig={s}".encode())
s = sig("PUT", k, 1_700_000_000, "a/b", "1", None, None)
w("signed_link", "expired", b"\x00" + f"{k}?expires=1700000000&length=1&type=a%2Fb&sig={s}".encode())
w("signed_link", "garbled", b"\x00" + f"{k}?expires=soon&length=-1&sig=***".encode())


# cursor: the codec key is "fuzz cursor key"
def cursor(payload):
    p = json.dumps(payload, separators=(",", ":")).encode()
    t = hmac.new(b"fuzz cursor key", p, hashlib.sha256).digest()[:16]
    b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
    return f"{b(p)}.{b(t)}"


w("cursor", "plain", cursor({"p": ID}))
w("cursor", "typed", cursor({"p": ID, "t": "invoice"}))
w("cursor", "status", cursor({"p": ID, "s": "active"}))
w("cursor", "garbage", "garbage.")

# sidecar
w("sidecar", "object", json.dumps({"owner": "sidecar", "project": "kumo", "status": "active", "document_id": "X", "version": 99}))
w("sidecar", "nested", json.dumps({"a": {"b": {"c": [1, 2, {"d": None}]}}, "e": 1.5e300}))
w("sidecar", "array", "[1,2,3]")
w("sidecar", "bom", b"\xef\xbb\xbf{\"a\":1}")

# blob_key
for n, s in [("content", f"documents/{ID}/r1"), ("sidecar", f"documents/{ID}/r12.meta.json"),
             ("traverse", f"documents/{ID}/r1/../r2"), ("lower", f"documents/{ID.lower()}/r1"),
             ("leading-zero", f"documents/{ID}/r01"), ("dot", "documents/./x")]:
    w("blob_key", n, s)

# auth
for n, s in [("bearer", "Bearer the-current-key"), ("lower", "bearer  the-previous-key "), ("basic", "Basic dXNlcjpwYXNz"),
             ("blank", "Bearer    "), ("confusable", "Bearer th\u0435-current-key")]:
    w("auth", n, s)

# AWS-side parsers, from the lambda crate's real-shaped fixtures
fx = "../crates/kumocms-lambda/tests/fixtures"
for f in ["eventbridge-s3-object-created", "eventbridge-s3-restore-completed", "eventbridge-s3-restore-expired",
          "eventbridge-scheduled"]:
    w("eventbridge_s3", f, open(f"{fx}/{f}.json", "rb").read())
w("eventbridge_s3", "encoded-key", f"documents%2F{ID}%2Fr1+x")
ev = json.load(open(f"{fx}/eventbridge-s3-object-created.json"))
w("sqs_dlq", "event", json.dumps(ev))
w("sqs_dlq", "on-failure", json.dumps({"version": "1.0", "requestContext": {"condition": "RetriesExhausted"}, "requestPayload": ev}))
w("sqs_dlq", "not-json", "not json")
auth = json.load(open(f"{fx}/apigw-request-authorizer.json"))
auth["headers"]["Authorization"] = "Bearer fuzz-current"
w("authorizer", "allow", '{"api_key":"k1","api_key_previous":"k0"}\n' + json.dumps(auth))
auth["headers"] = {"authorization": "bearer fuzz-previous"}
w("authorizer", "previous-lowercase", '{"api_key":"  "}\n' + json.dumps(auth))
auth["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/x"
w("authorizer", "wildcard-stage", "\n" + json.dumps(auth))
proxy = json.load(open(f"{fx}/apigw-rest-proxy.json"))
w("rest_proxy", "create", json.dumps(proxy))
g = dict(proxy)
g.update(httpMethod="GET", path="/v1/documents", body=None, queryStringParameters={"limit": "2", "type": "invoice"})
w("rest_proxy", "list", json.dumps(g))

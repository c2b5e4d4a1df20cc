"""An HTTP front standing in for API Gateway's REST endpoint, so that an HTTP client
(the `kumocms` binary) can talk to a module-made stack on moto.

Each request is matched against the REST API's resources and methods as read back
from moto (`deployment.api_routes`): an unknown route gets API Gateway's 403
`Missing Authentication Token`; a method with the REQUEST authorizer (`CUSTOM`) has
the authorizer function called with the `Authorization` header first (no header:
401; the error `Unauthorized`: 401; a Deny: 403; an Allow is cached per header, as
API Gateway caches it), then the request becomes an AWS_PROXY event for the api
function, run through its Runtime API loop (`runtime.Function`), and the function's
answer becomes the HTTP response. The stage is the first path segment, as in an
`execute-api` URL: the client's base URL is `<front>/<stage>`.

The functions are the real `bootstrap` processes; only API Gateway's HTTP side is
emulated, and only what the client needs (no binary media types, no throttling).
"""
import base64
import copy
import json
import re
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
API_ID = "abcdef123"


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _template(resource):
    """A resource path (`/documents/{id}`) as a regex with its parameter names."""
    names = []
    pattern = ""
    for segment in resource.strip("/").split("/"):
        if not segment:
            continue
        if segment.startswith("{") and segment.endswith("+}"):
            names.append(segment[1:-2])
            pattern += "/(.+)"
        elif segment.startswith("{") and segment.endswith("}"):
            names.append(segment[1:-1])
            pattern += "/([^/]+)"
        else:
            pattern += "/" + re.escape(segment)
    return re.compile("^" + (pattern or "/") + "$"), names


class Gateway:
    """The front for one REST API: `routes` is {(METHOD, resource): authorizationType}."""

    def __init__(self, routes, stage, region, api, authorizer=None, event_template=None, authorizer_template=None):
        self.stage = stage
        self.region = region
        self.api = api
        self.authorizer = authorizer
        self.event_template = event_template
        self.authorizer_template = authorizer_template
        self.allowed = {}
        self.calls = []
        # Literal segments win over parameters, as in API Gateway.
        self.routes = sorted(
            ((method, resource, auth, *_template(resource)) for (method, resource), auth in routes.items()),
            key=lambda r: (r[1].count("{"), -len(r[1])),
        )
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = gateway.handle(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{stage}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _message(status, message, error_type):
        """One of API Gateway's own answers (its gateway responses' default bodies)."""
        data = json.dumps({"message": message}).encode()
        return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)], data

    def _route(self, method, path):
        for m, resource, auth, regex, names in self.routes:
            if m != method:
                continue
            match = regex.match(path)
            if match:
                params = {n: urllib.parse.unquote(v) for n, v in zip(names, match.groups())}
                return resource, auth, params or None
        return None

    def handle(self, method, raw_path, headers, body):
        url = urllib.parse.urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if not (url.path == prefix or url.path.startswith(prefix + "/")):
            return self._message(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        path = url.path[len(prefix):] or "/"
        route = self._route(method, path)
        if route is None:
            return self._message(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        resource, auth, params = route
        self.calls.append((method, resource))
        single = {}
        multi = {}
        for name, value in headers.items():
            single[name] = value
            multi.setdefault(name, []).append(value)
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        query = {k: v for k, v in pairs}
        multi_query = {}
        for k, v in pairs:
            multi_query.setdefault(k, []).append(v)
        context_auth = None
        if auth == "CUSTOM":
            denied, context_auth = self._authorize(method, path, resource, params, single, multi)
            if denied:
                return denied
        event = copy.deepcopy(self.event_template)
        host = f"{API_ID}.execute-api.{self.region}.amazonaws.com"
        single["Host"] = host
        multi["Host"] = [host]
        try:
            text = body.decode("utf-8")
            encoded = False
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode()
            encoded = True
        event.update({
            "resource": resource, "path": path, "httpMethod": method,
            "headers": single, "multiValueHeaders": multi,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params, "stageVariables": None,
            "body": text if body else None, "isBase64Encoded": encoded,
        })
        ctx = event["requestContext"]
        ctx.update({
            "resourcePath": resource, "httpMethod": method, "path": f"{prefix}{path}",
            "stage": self.stage, "requestId": str(uuid.uuid4()), "domainName": host,
            "apiId": API_ID, "domainPrefix": API_ID, "requestTimeEpoch": int(time.time() * 1000),
        })
        if context_auth is None:
            ctx.pop("authorizer", None)
        else:
            ctx["authorizer"] = context_auth
        kind, answer, _ = self.api.invoke(event)
        if kind != "response" or not isinstance(answer, dict):
            # A function error is API Gateway's 502.
            return self._message(502, "Internal server error", "InternalServerErrorException")
        status = int(answer.get("statusCode", 502))
        out = []
        multi_out = answer.get("multiValueHeaders") or {}
        for name, values in multi_out.items():
            for value in values or []:
                out.append((name, value))
        for name, value in (answer.get("headers") or {}).items():
            if name not in multi_out:
                out.append((name, value))
        data = answer.get("body") or ""
        data = base64.b64decode(data) if answer.get("isBase64Encoded") else data.encode("utf-8")
        return status, out, data

    def _authorize(self, method, path, resource, params, single, multi):
        """(a response when denied, else None; the authorizer context for the event)."""
        value = next((v for k, v in single.items() if k.lower() == "authorization"), None)
        if value is None:
            return self._message(401, "Unauthorized", "UnauthorizedException"), None
        if value in self.allowed:
            return None, self.allowed[value]
        event = copy.deepcopy(self.authorizer_template)
        event.update({
            "methodArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{API_ID}/{self.stage}/{method}{path}",
            "resource": resource, "path": path, "httpMethod": method,
            "headers": dict(single), "multiValueHeaders": dict(multi),
            "pathParameters": params or {},
        })
        event["requestContext"].update({"resourcePath": resource, "httpMethod": method,
                                        "path": f"/{self.stage}{path}", "stage": self.stage})
        kind, answer, _ = self.authorizer.invoke(event)
        if kind == "error" and isinstance(answer, dict) and answer.get("errorMessage") == "Unauthorized":
            return self._message(401, "Unauthorized", "UnauthorizedException"), None
        if kind != "response" or not isinstance(answer, dict):
            return self._message(500, None, "AuthorizerConfigurationException"), None
        statements = answer.get("policyDocument", {}).get("Statement", [])
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            return self._message(403, "User is not authorized to access this resource", "AccessDeniedException"), None
        context = dict(answer.get("context") or {})
        context["principalId"] = answer.get("principalId")
        self.allowed[value] = context
        return None, context

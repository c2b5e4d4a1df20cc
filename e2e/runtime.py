"""The `bootstrap` binary run as Lambda runs it: a child process polling a local
server that speaks the Lambda Runtime API (/2018-06-01/runtime/...), with the
handler and environment read back from moto's Lambda configuration.

Same approach as crates/kumocms-lambda/tests/runtime_api.rs, in Python so that
the suite can feed it what it read with boto3.
"""
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class FunctionFailed(AssertionError):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Function:
    """One Lambda function: a Runtime API server and its bootstrap process."""

    def __init__(self, bootstrap, name, handler, env, region, moto, log_dir):
        self.name = name
        self.handler = handler
        self.invocations = queue.Queue()
        self.reports = queue.Queue()
        # One invocation at a time, as one Lambda execution environment runs them:
        # callers on several threads (the HTTP front in gateway.py) wait their turn
        # instead of taking each other's reports off the queue.
        self.busy = threading.Lock()
        function = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw or b"null")
                except ValueError:
                    return raw.decode("utf-8", "replace")

            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                request_id, event = function.invocations.get()
                deadline = int((time.time() + 60) * 1000)
                self._reply(200, json.dumps(event).encode(), {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:{region}:123456789012:function:{name}",
                    "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                })

            def do_POST(self):
                body = self._body()
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                path = self.path
                if path == f"{PREFIX}/init/error":
                    function.reports.put(("init_error", None, body, error_type))
                elif path.startswith(f"{PREFIX}/invocation/") and path.endswith("/response"):
                    function.reports.put(("response", path.split("/")[-2], body, None))
                elif path.startswith(f"{PREFIX}/invocation/") and path.endswith("/error"):
                    function.reports.put(("error", path.split("/")[-2], body, error_type))
                else:
                    return self._reply(404)
                self._reply(202, b"{}")

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        address = f"127.0.0.1:{self.server.server_address[1]}"
        process_env = {
            "PATH": os.environ.get("PATH", ""),
            # What Lambda sets:
            "AWS_LAMBDA_RUNTIME_API": address,
            "_HANDLER": handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/29/[$LATEST]e2e",
            # The role's credentials (moto accepts any) and the emulator:
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": moto,
        }
        # Exactly the function's environment as read back from moto.
        process_env.update(env)
        self.log_path = os.path.join(log_dir, f"{region}-{name}.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [bootstrap], env=process_env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.describe = f"bootstrap as {name} (_HANDLER={handler!r}, {region})"

    def logs(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def invoke(self, event, timeout=60):
        """Returns ("response"|"error", body, error_type); an init error fails."""
        with self.busy:
            return self._invoke(event, timeout)

    def _invoke(self, event, timeout):
        request_id = str(uuid.uuid4())
        self.invocations.put((request_id, event))
        deadline = time.time() + timeout
        while True:
            try:
                kind, rid, body, error_type = self.reports.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise FunctionFailed(
                        f"{self.describe} exited with {self.process.returncode} before answering; "
                        f"its output:\n{self.logs()[-3000:]}")
                if time.time() > deadline:
                    raise FunctionFailed(f"{self.describe} did not answer within {timeout}s")
                continue
            if kind == "init_error":
                message = body.get("errorMessage") if isinstance(body, dict) else body
                raise FunctionFailed(f"{self.describe} failed init: {message}")
            if rid != request_id:
                continue
            return kind, body, error_type

    def respond(self, event):
        kind, body, error_type = self.invoke(event)
        if kind != "response":
            raise FunctionFailed(f"{self.describe} answered an error: {body}")
        return body

    def stop(self):
        self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.server.shutdown()
        self.server.server_close()
        self.log.close()

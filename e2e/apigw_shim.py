"""A pass-through proxy in front of moto for Terraform's API Gateway calls only.

API Gateway returns a REST API's resource policy (GetRestApi `policy`) as JSON
with its quotes backslash-escaped; moto returns it unescaped, and the aws
provider then fails to read aws_api_gateway_rest_api_policy ("invalid character
... after top-level value"). The proxy escapes that one field the way AWS does
and passes everything else through unchanged. The functions never talk to it.
"""
import http.client
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REST_API = re.compile(r"^/restapis/[^/?]+/?(\?.*)?$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def start(moto):
    target = urllib.parse.urlparse(moto)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = target.netloc
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if self.command == "GET" and REST_API.match(self.path) and response.status == 200:
                try:
                    doc = json.loads(data)
                    if isinstance(doc.get("policy"), str) and '\\"' not in doc["policy"]:
                        doc["policy"] = doc["policy"].replace('"', '\\"')
                        data = json.dumps(doc).encode()
                except ValueError:
                    pass
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

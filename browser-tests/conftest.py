"""Fixtures for the browser tests: a real `kumocms serve` on an ephemeral port with
a fresh data directory, and Playwright driving the system's Chromium (nothing
downloads a browser)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from playwright.sync_api import sync_playwright

MIB = 1024 * 1024


@dataclass
class Server:
    url: str
    key: str
    multipart_threshold: int

    def api(self, method: str, path: str, body=None, headers=None):
        """One API call with the key; the parsed JSON answer (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def create_text(self, name: str, body: bytes) -> str:
        """A document with this content, uploaded through its link, active."""
        created = self.api(
            "POST",
            "/documents",
            {"file_name": name, "file_size": len(body), "content_type": "text/plain"},
        )
        upload = created["upload"]
        request = urllib.request.Request(upload["url"], data=body, method=upload["method"])
        for header, value in upload["headers"].items():
            if header.lower() != "content-length":
                request.add_header(header, value)
        urllib.request.urlopen(request, timeout=30).read()
        self.wait_status(created["document_id"], "active")
        return created["document_id"]

    def wait_status(self, doc_id: str, status: str, revision=None, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            doc = self.api("GET", f"/documents/{doc_id}")
            if doc["status"] == status and (revision is None or doc["revision"] == revision):
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"{doc_id} is {doc['status']} r{doc['revision']}, not {status}")
            time.sleep(0.2)

    def wait_all_active(self, count: int, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            documents = self.api("GET", "/documents?limit=1000")["documents"]
            if len(documents) >= count and all(d["status"] == "active" for d in documents):
                return documents
            if time.monotonic() > deadline:
                raise AssertionError(f"not all active: {[(d['file_name'], d['status']) for d in documents]}")
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    binary = os.environ.get("KUMOCMS_BIN", "target/debug/kumocms")
    data_dir = tempfile.mkdtemp(prefix="kumocms-browser-")
    port = free_port()
    key = "browser-test-key-" + os.urandom(8).hex()
    threshold = 6 * MIB
    env = dict(os.environ, KUMOCMS_API_KEY=key, KUMOCMS_LOG="warn")
    process = subprocess.Popen(
        [
            binary,
            "serve",
            "--addr",
            f"127.0.0.1:{port}",
            "--data-dir",
            data_dir,
            "--restore-delay",
            "1",
            "--multipart-threshold",
            str(threshold),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthcheck", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode())
                time.sleep(0.1)
        yield Server(url=url, key=key, multipart_threshold=threshold)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" and "401" not in message.text and "412" not in message.text else None,
    )
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"

"""The web interface in a real browser: Debian's Chromium, driven by Playwright,
against a real `kumocms serve` (started by conftest.py). Each step takes a
screenshot into $KUMOCMS_SCREENSHOTS, kept with the CI logs."""

import json
import os
import re
from playwright.sync_api import Page, expect

from conftest import Server

KEY_STORAGE = "kumocms.credential"


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("KUMOCMS_SCREENSHOTS", "target/browser-screenshots")
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Documents")).to_be_visible()


def no_key_outside_session_storage(page: Page, server: Server, seen_urls: list) -> None:
    """The key is in sessionStorage, and nowhere a browser keeps or shows more widely."""
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == server.key
    assert page.evaluate("JSON.stringify(Object.assign({}, localStorage))") == "{}"
    assert server.key not in page.url
    assert server.key not in page.evaluate("document.cookie")
    assert all(server.key not in url for url in seen_urls), "the key went into a URL"


def test_wrong_key_is_refused_and_nothing_is_shown(page: Page, server: Server) -> None:
    page.goto(server.url + "/ui/")
    page.get_by_label("API key").fill("not-the-key-0123456789")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
    shot(page, "01-wrong-key")


def test_a_document_from_upload_to_trash(page: Page, server: Server, tmp_path) -> None:
    seen_urls = []
    page.on("request", lambda request: seen_urls.append(request.url))
    sign_in(page, server)
    shot(page, "02-signed-in")

    # Upload three files at once through the file input: two small, one large
    # enough for the multipart protocol (the server's threshold is lowered for the test).
    files = []
    for name, body in [
        ("invoice-acme.txt", b"Invoice for ACME Corporation, due in thirty days.\n"),
        ("notes.md", b"# Notes\n\nNothing to see here.\n"),
        ("big.bin", os.urandom(server.multipart_threshold + 3 * 1024 * 1024)),
    ]:
        path = tmp_path / name
        path.write_bytes(body)
        files.append(str(path))
    page.get_by_role("link", name="Upload").click()
    expect(page.get_by_role("heading", name="Upload")).to_be_visible()
    page.get_by_label("Files").set_input_files(files)
    uploads = page.get_by_role("list", name="Uploads")
    expect(uploads.get_by_text("Uploaded:")).to_have_count(3, timeout=60_000)
    shot(page, "03-uploaded")

    # Every upload became a document that settles as active.
    server.wait_all_active(3)

    # Search finds the invoice by a word of its text; the snippet marks it.
    page.get_by_role("link", name="Documents").click()
    page.get_by_role("searchbox").fill("acme")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.docs tbody tr:not(.skeleton)")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("mark").first).to_have_text(re.compile("acme", re.I))
    assert "q=acme" in page.url
    shot(page, "04-search")

    # A filter: only text/markdown.
    page.get_by_role("searchbox").fill("")
    page.get_by_text("Filters and sorting").click()
    page.get_by_label("Content type").fill("text/markdown")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("notes.md")
    shot(page, "05-filter")

    # Open the invoice.
    page.get_by_label("Content type").fill("")
    page.get_by_role("searchbox").fill("invoice")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="invoice-acme.txt").click()
    expect(page.get_by_role("heading", name="invoice-acme.txt")).to_be_visible()
    expect(page.locator(".preview pre")).to_contain_text("ACME Corporation")
    doc_id = page.url.rsplit("/", 1)[-1]
    shot(page, "06-document")

    # Edit metadata; a concurrent change (through the API) makes the save a 412,
    # shown to the user, and the other change is kept.
    server.api("PATCH", f"/documents/{doc_id}", {"metadata": {"owner": "someone else"}})
    page.get_by_label("Metadata (JSON)").fill(json.dumps({"customer": "ACME"}))
    page.get_by_role("button", name="Save metadata").click()
    expect(page.get_by_role("alert")).to_contain_text("changed this document")
    assert server.api("GET", f"/documents/{doc_id}")["metadata"] == {"owner": "someone else"}
    shot(page, "07-conflict")
    page.get_by_role("button", name="Reload").click()
    page.get_by_label("Metadata (JSON)").fill(json.dumps({"owner": "someone else", "customer": "ACME"}))
    page.get_by_role("button", name="Save metadata").click()
    expect(page.get_by_label("Metadata (JSON)")).to_have_value(re.compile('"customer": "ACME"'))
    assert server.api("GET", f"/documents/{doc_id}")["metadata"] == {"owner": "someone else", "customer": "ACME"}

    # A new revision, then restore r1 (as r3).
    replacement = tmp_path / "invoice-acme-v2.txt"
    replacement.write_bytes(b"Invoice v2 for ACME.\n")
    page.get_by_label("Upload a new revision").set_input_files(str(replacement))
    server.wait_status(doc_id, "active", revision=2)
    page.reload()
    expect(page.get_by_role("button", name="Restore r1")).to_be_visible()
    page.get_by_role("button", name="Restore r1").click()
    server.wait_status(doc_id, "active", revision=3)
    page.reload()
    expect(page.locator(".preview pre")).to_contain_text("ACME Corporation")
    expect(page.get_by_role("cell", name="r3 (current)")).to_be_visible()
    shot(page, "08-revisions")

    # Archive, then restore: the page follows the state until it settles.
    page.get_by_role("button", name="Archive").click()
    expect(page.locator(".badge").first).to_have_text("archived")
    page.get_by_label("Days").fill("2")
    page.get_by_role("button", name="Restore", exact=True).click()
    expect(page.locator(".badge").first).to_have_text("restored", timeout=30_000)
    shot(page, "09-restored")

    # Delete to the trash, undelete from the trash view.
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".badge").first).to_have_text("deleted")
    page.get_by_role("link", name="Trash").click()
    page.get_by_role("link", name="invoice-acme.txt").click()
    page.get_by_role("button", name="Undelete").click()
    # A restored copy is temporary: undelete brings the document back archived.
    expect(page.locator(".badge").first).to_have_text("archived")
    shot(page, "10-undeleted")

    no_key_outside_session_storage(page, server, seen_urls)

    # Sign out: the key is gone and nothing is shown.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
    page.goto(server.url + f"/ui/#/documents/{doc_id}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "11-signed-out")


def test_keyboard_alone_signs_in_and_opens_a_document(page: Page, server: Server) -> None:
    doc_id = server.create_text("keyboard.txt", b"typed, not clicked\n")
    page.goto(server.url + "/ui/")
    # The sign-in form starts with the key field focused.
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(server.key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Documents")).to_be_visible()
    link = page.get_by_role("link", name="keyboard.txt")
    for _ in range(40):
        if link.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="keyboard.txt")).to_be_visible()
    assert doc_id in page.url


def test_phone_sized_screen_has_no_horizontal_scroll(browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    sign_in(page, server)
    server.create_text("phone.txt", b"small screen\n")
    page.reload()
    expect(page.get_by_role("link", name="phone.txt")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scroll"
    shot(page, "12-phone")
    context.close()

// The KumoCMS web interface: a few views over the public API, routed by the
// address's fragment (#/, #/documents/ID, #/upload, #/trash). Every piece of data
// is put into the page as text (no HTML from the server is ever parsed).

import { ApiError, call, credential, forgetCredential, get, post, seg, whenUnauthorized } from "./api.js";
import { finishCognito, loadConfig, signInWithKey, startCognito } from "./auth.js";
import { uploadFile } from "./upload.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let config = { auth: "api_key" };

// ---------------------------------------------------------------- DOM helpers

/** An element with attributes (`on*` are listeners) and children (strings are text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Shows a view: replaces the page's content and moves focus to its heading. */
function show(title, ...content) {
  document.title = title ? `${title} · KumoCMS` : "KumoCMS";
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content.filter(Boolean));
  heading.focus();
}

function alertBox() {
  return h("div", { role: "alert", class: "alert", hidden: true });
}

function say(box, message) {
  box.textContent = message;
  box.hidden = !message;
}

function errorText(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return String(error && error.message ? error.message : error);
}

const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
function formatSize(bytes) {
  if (bytes === undefined || bytes === null) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${sizeFormat.format(value)} ${units[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
function formatDate(text) {
  if (!text) return "—";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : dateFormat.format(date);
}

/** An upload's progress line. */
function sendingText(sent, total) {
  return `Sending… ${Math.floor((sent / Math.max(total, 1)) * 100)}%`;
}

function badge(status) {
  return h("span", { class: `badge ${status}` }, status.replace("_", " "));
}

/** A snippet with `<mark>…</mark>` around matches, built as text and mark elements. */
function snippet(text) {
  const out = h("div", { class: "snippet" });
  const parts = text.split(/<mark>|<\/mark>/);
  parts.forEach((part, i) => out.append(i % 2 ? h("mark", {}, part) : part));
  return out;
}

// ---------------------------------------------------------------- sign in

function signOut() {
  forgetCredential();
  nav.hidden = true;
  location.hash = "#/";
  route();
}

function signInView(message) {
  nav.hidden = true;
  const problem = alertBox();
  if (message) say(problem, message);
  if (config.auth === "cognito") {
    show(
      "Sign in",
      h(
        "div",
        { class: "panel signin stack" },
        h("p", {}, "This deployment signs you in with your organisation's account."),
        problem,
        h("button", { type: "button", class: "primary", onclick: () => startCognito(config.cognito) }, "Sign in"),
      ),
    );
    return;
  }
  const key = h("input", { id: "key", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "panel signin stack", novalidate: true },
    h("div", {}, h("label", { for: "key" }, "API key"), key),
    h("p", { class: "hint" }, "The key `kumocms serve` printed at its first start, or one from your deployment's secret. It is kept in this tab only."),
    problem,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    say(problem, "");
    try {
      await signInWithKey(key.value);
      key.value = "";
      nav.hidden = false;
      route();
    } catch (error) {
      say(problem, error.status === 401 ? "That key is not accepted. Check it and try again." : errorText(error));
      key.focus();
    } finally {
      submit.disabled = false;
    }
  });
  show("Sign in", form);
  key.focus();
}

// ---------------------------------------------------------------- documents

const STATUSES = ["", "pending_upload", "active", "archived", "restoring", "restored"];
const SORTS = [
  ["", "Default"],
  ["relevance", "Relevance"],
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ["-updated_at", "Recently changed"],
  ["file_name", "Name A–Z"],
  ["-file_name", "Name Z–A"],
  ["-size", "Largest first"],
  ["size", "Smallest first"],
];

/** The query of the list view, read from and written to the address (#/?q=…). */
function listQuery() {
  const at = location.hash.indexOf("?");
  return new URLSearchParams(at >= 0 ? location.hash.slice(at + 1) : "");
}

function field(id, text, control) {
  control.id = id;
  return h("div", {}, h("label", { for: id }, text), control);
}

function select(options, value) {
  const element = h("select");
  for (const [optionValue, text] of options) {
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

/** The documents view: search, filters, sorting, and pages on the cursor. */
function listView({ trash = false } = {}) {
  const query = listQuery();
  const q = h("input", { type: "search", name: "q", value: query.get("q") || "", placeholder: "Words, \"a phrase\", -exclude" });
  const type = h("input", { type: "text", name: "type", value: query.get("type") || "", placeholder: "invoice" });
  const status = select(STATUSES.map((s) => [s, s ? s.replace("_", " ") : "Any"]), query.get("status") || "");
  const contentType = h("input", { type: "text", name: "content_type", value: query.get("content_type") || "", placeholder: "application/pdf or image/*" });
  const after = h("input", { type: "date", name: "created_after", value: query.get("created_after") || "" });
  const before = h("input", { type: "date", name: "created_before", value: query.get("created_before") || "" });
  const sort = select(SORTS, query.get("sort") || "");
  const problem = alertBox();
  const body = h("tbody");
  const table = h(
    "table",
    { class: "docs" },
    h("caption", { class: "hint caption" }, trash ? "Deleted documents, until their purge date" : "Documents"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, trash ? "Purged" : "Changed"))),
    body,
  );
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const count = h("p", { role: "status", class: "hint" });

  const form = h(
    "form",
    { role: "search", class: "panel", "aria-label": "Search documents" },
    h("div", { class: "searchrow" }, h("label", { for: "q", class: "visually-hidden" }, "Search"), Object.assign(q, { id: "q" }), h("button", { type: "submit", class: "primary shrink" }, "Search")),
    trash
      ? null
      : h(
          "details",
          { open: [...query.keys()].some((k) => k !== "q") || undefined },
          h("summary", {}, "Filters and sorting"),
          h(
            "div",
            { class: "filters" },
            field("f-type", "Type", type),
            field("f-status", "Status", status),
            field("f-content-type", "Content type", contentType),
            field("f-after", "Created after", after),
            field("f-before", "Created before", before),
            field("f-sort", "Sort", sort),
          ),
        ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const put = (name, value) => value && next.set(name, value);
    put("q", q.value.trim());
    if (!trash) {
      put("type", type.value.trim());
      put("status", status.value);
      put("content_type", contentType.value.trim());
      put("created_after", after.value);
      put("created_before", before.value);
      put("sort", sort.value);
    }
    const text = next.toString();
    location.hash = `${trash ? "#/trash" : "#/"}${text ? `?${text}` : ""}`;
  });

  // The API's parameters from the view's query: dates become RFC 3339 instants.
  const params = [];
  for (const [name, value] of query) {
    if (name === "created_after" || name === "created_before") params.push([name, `${value}T00:00:00Z`]);
    else params.push([name, value]);
  }
  if (trash) params.push(["status", "deleted"]);
  params.push(["limit", "50"]);

  let cursor = null;
  let shown = 0;
  const skeleton = () => {
    const rows = [];
    for (let i = 0; i < 6; i++) {
      rows.push(h("tr", { class: "skeleton", "aria-hidden": "true" }, h("td", {}, "·"), h("td", {}, "·"), h("td", {}, "·"), h("td", {}, "·"), h("td", {}, "·")));
    }
    return rows;
  };
  const load = async () => {
    more.disabled = true;
    const placeholders = skeleton();
    body.append(...placeholders);
    say(problem, "");
    try {
      const page = (await get("/documents", { query: cursor ? [...params, ["cursor", cursor]] : params })).body;
      placeholders.forEach((row) => row.remove());
      for (const doc of page.documents) {
        const name = h("td", { "data-label": "Name" }, h("a", { href: `#/documents/${seg(doc.document_id)}` }, doc.file_name || doc.document_id));
        if (doc.search && doc.search.snippet) name.append(snippet(doc.search.snippet));
        body.append(
          h(
            "tr",
            {},
            name,
            h("td", { "data-label": "Type" }, doc.document_type),
            h("td", { "data-label": "Status" }, badge(doc.status)),
            h("td", { "data-label": "Size", class: "num" }, formatSize(doc.size)),
            h("td", { "data-label": trash ? "Purged" : "Changed" }, formatDate(trash ? doc.purge_at : doc.updated_at)),
          ),
        );
      }
      shown += page.documents.length;
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      count.textContent = shown === 0 ? (trash ? "The trash is empty." : "No documents match.") : `${shown} document${shown === 1 ? "" : "s"} shown${cursor ? "; more to load" : ""}.`;
    } catch (error) {
      placeholders.forEach((row) => row.remove());
      say(problem, errorText(error));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  show(trash ? "Trash" : "Documents", form, problem, h("div", { class: "results" }, table), count, h("div", { class: "more" }, more));
  load();
}

// ---------------------------------------------------------------- upload

function uploadView() {
  const picker = h("input", { type: "file", id: "files", multiple: true });
  const type = h("input", { type: "text", id: "u-type", placeholder: "default" });
  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const zone = h("div", { class: "dropzone" }, "…or drop files here");
  const start = (files) => {
    for (const file of files) {
      const bar = h("progress", { max: file.size || 1, value: 0, "aria-label": `Upload of ${file.name}` });
      const state = h("div", { class: "state", role: "status" }, "Starting…");
      list.append(h("li", {}, h("span", { class: "name" }, file.name, " ", h("span", { class: "hint" }, `(${formatSize(file.size)})`)), bar, state));
      uploadFile(file, {
        documentType: type.value.trim() || undefined,
        onProgress: (sent, total) => {
          bar.value = sent;
          state.textContent = sendingText(sent, total);
        },
      })
        .then((doc) => {
          bar.value = bar.max;
          state.replaceChildren("Uploaded: ", h("a", { href: `#/documents/${seg(doc.document_id)}` }, "open the document"));
        })
        .catch((error) => {
          state.classList.add("error");
          state.textContent = `Failed: ${errorText(error)}`;
        });
    }
  };
  picker.addEventListener("change", () => {
    start([...picker.files]);
    picker.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start([...event.dataTransfer.files]);
  });
  show(
    "Upload",
    h(
      "div",
      { class: "panel stack" },
      h("div", { class: "row" }, h("div", {}, h("label", { for: "files" }, "Files"), picker), h("div", {}, h("label", { for: "u-type" }, "Type (optional)"), type)),
      zone,
      h("p", { class: "hint" }, "Large files go up in parts, several at once. Each document becomes active once its content is checked."),
      list,
    ),
  );
}

// ---------------------------------------------------------------- one document

/** Statuses that change on their own (the view polls until they settle). */
const SETTLING = new Set(["pending_upload", "restoring"]);

async function documentView(id) {
  show("Document", h("p", { class: "hint", role: "status" }, "Loading…"));
  let doc;
  try {
    doc = (await get(`/documents/${seg(id)}`)).body;
  } catch (error) {
    show("Document", h("p", { class: "alert", role: "alert" }, errorText(error)), h("p", {}, h("a", { href: "#/" }, "Back to the documents")));
    return;
  }
  const problem = alertBox();
  const notice = h("p", { role: "status", class: "notice" });
  const refresh = () => documentView(id);

  const act = (label, action, { danger = false, confirmText } = {}) =>
    h(
      "button",
      {
        type: "button",
        class: danger ? "danger" : undefined,
        onclick: async (event) => {
          if (confirmText && !confirm(confirmText)) return;
          event.currentTarget.disabled = true;
          say(problem, "");
          try {
            await action();
            await refresh();
          } catch (error) {
            say(problem, errorText(error));
            event.currentTarget.disabled = false;
          }
        },
      },
      label,
    );

  const etag = { "If-Match": doc.etag };
  const actions = h("div", { class: "actions" });
  if (doc.download) actions.append(h("a", { class: "button primary", href: doc.download.url, download: doc.file_name }, "Download"));
  if (doc.status === "deleted") {
    actions.append(act("Undelete", () => post(`/documents/${seg(id)}/undelete`, undefined, { headers: etag })));
    actions.append(act("Delete forever", () => call("DELETE", `/documents/${seg(id)}`, { query: [["permanent", "true"]], headers: etag }), { danger: true, confirmText: "Delete this document and every revision now? This cannot be undone." }));
  } else {
    if (doc.status === "active") actions.append(act("Archive", () => post(`/documents/${seg(id)}/archive`)));
    if (doc.status === "archived") {
      const days = h("input", { type: "number", id: "restore-days", class: "days", min: "1", max: "365", value: "7" });
      actions.append(h("span", { class: "row shrink" }, h("label", { for: "restore-days", class: "inline-label" }, "Days"), days), act("Restore", () => post(`/documents/${seg(id)}/restore`, { days: Number(days.value) })));
    }
    actions.append(act("Delete", () => call("DELETE", `/documents/${seg(id)}`, { headers: etag }), { danger: true }));
  }

  const fields = h("dl", { class: "fields" });
  const row = (name, value) => fields.append(h("dt", {}, name), h("dd", {}, value));
  row("Status", badge(doc.status));
  row("Type", doc.document_type);
  row("Content type", doc.content_type || "—");
  row("Size", formatSize(doc.size));
  row("Revision", String(doc.revision));
  row("Storage class", doc.storage_class);
  row("SHA-256", h("span", { class: "mono" }, doc.checksum_sha256 || "—"));
  row("Created", formatDate(doc.created_at));
  row("Changed", formatDate(doc.updated_at));
  if (doc.restore) row("Restore", `${doc.restore.status || ""} ${doc.restore.expires_at ? `until ${formatDate(doc.restore.expires_at)}` : ""}`.trim() || "requested");
  if (doc.purge_at) row("Purged", formatDate(doc.purge_at));
  row("ID", h("span", { class: "mono" }, doc.document_id));

  const extracted = h("dl", { class: "fields" });
  for (const [name, value] of Object.entries(doc.extracted || {})) {
    extracted.append(h("dt", {}, name), h("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value)));
  }

  // Metadata, changed with If-Match: a concurrent change is shown, not overwritten.
  const editor = h("textarea", { id: "metadata", spellcheck: "false" }, JSON.stringify(doc.metadata || {}, null, 2));
  const save = h("button", { type: "submit", class: "primary" }, "Save metadata");
  const metaForm = h("form", { class: "stack" }, h("label", { for: "metadata" }, "Metadata (JSON)"), editor, h("div", { class: "actions" }, save));
  metaForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(problem, "");
    let wanted;
    try {
      wanted = JSON.parse(editor.value);
      if (!wanted || typeof wanted !== "object" || Array.isArray(wanted)) throw new Error("Metadata must be a JSON object.");
    } catch (error) {
      say(problem, `Not saved: ${error.message}`);
      editor.focus();
      return;
    }
    // A merge patch from what was shown to what is wanted: removed keys become null.
    const patch = { ...wanted };
    for (const key of Object.keys(doc.metadata || {})) if (!(key in wanted)) patch[key] = null;
    save.disabled = true;
    try {
      await call("PATCH", `/documents/${seg(id)}`, { body: { metadata: patch }, headers: etag });
      await refresh();
    } catch (error) {
      save.disabled = false;
      if (error.status === 412) {
        say(problem, "Someone changed this document since you opened it, so your change was not saved. Reload to see theirs, then edit again.");
        problem.append(" ", h("button", { type: "button", onclick: refresh }, "Reload"));
      } else {
        say(problem, errorText(error));
      }
    }
  });

  const preview = h("div", { class: "preview" });
  const type = (doc.content_type || "").split(";")[0].trim();
  if (doc.download && type.startsWith("image/")) preview.append(h("img", { src: doc.download.url, alt: `Preview of ${doc.file_name}`, loading: "lazy" }));
  else if (doc.download && type === "application/pdf") preview.append(h("iframe", { src: doc.download.url, title: `Preview of ${doc.file_name}` }));
  else if (doc.download && (type.startsWith("text/") || type === "application/json")) {
    const pre = h("pre", {}, "Loading…");
    preview.append(pre);
    fetch(doc.download.url, { headers: { Range: "bytes=0-65535" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error(String(response.status)))))
      .then((text) => (pre.textContent = text))
      .catch(() => (pre.textContent = "The preview could not be loaded; use Download."));
  } else preview.append(h("p", { class: "hint" }, doc.download ? "No preview for this type; use Download." : "The content cannot be read now."));

  const revisions = h("tbody");
  const revisionTable = h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Revision"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Current since"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))), revisions);
  get(`/documents/${seg(id)}/revisions`)
    .then(({ body }) => {
      for (const revision of body.revisions || []) {
        const cell = h("td", { class: "actions" });
        cell.append(
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                try {
                  const one = (await get(`/documents/${seg(id)}/revisions/${revision.revision}`)).body;
                  if (!one.download) throw new ApiError(409, "unreadable", "This revision cannot be read now.");
                  location.assign(one.download.url);
                } catch (error) {
                  say(problem, errorText(error));
                }
              },
            },
            `Download r${revision.revision}`,
          ),
        );
        if (!revision.current && doc.status !== "deleted") {
          cell.append(act(`Restore r${revision.revision}`, () => post(`/documents/${seg(id)}/revisions/${revision.revision}/restore`, undefined, { headers: etag })));
        }
        revisions.append(h("tr", {}, h("td", {}, `r${revision.revision}${revision.current ? " (current)" : ""}`), h("td", {}, revision.file_name), h("td", { class: "num" }, formatSize(revision.size)), h("td", {}, formatDate(revision.created_at)), cell));
      }
    })
    .catch((error) => say(problem, errorText(error)));

  const replace = h("input", { type: "file", id: "replace" });
  const replaceState = h("p", { role: "status", class: "hint" });
  replace.addEventListener("change", async () => {
    const file = replace.files[0];
    if (!file) return;
    try {
      await uploadFile(file, { replace: id, onProgress: (sent, total) => (replaceState.textContent = sendingText(sent, total)) });
      await refresh();
    } catch (error) {
      replaceState.textContent = "";
      say(problem, errorText(error));
    }
  });

  show(
    doc.file_name || doc.document_id,
    problem,
    notice,
    actions,
    SETTLING.has(doc.status) ? h("p", { class: "status-line", role: "status" }, `${doc.status.replace("_", " ")}: this page updates when it settles.`) : null,
    h("div", { class: "grid2" }, h("section", { class: "panel", "aria-labelledby": "h-details" }, h("h2", { id: "h-details" }, "Details"), fields), h("section", { class: "panel", "aria-labelledby": "h-preview" }, h("h2", { id: "h-preview" }, "Preview"), preview)),
    h("section", { class: "panel", "aria-labelledby": "h-meta" }, h("h2", { id: "h-meta" }, "Metadata"), metaForm),
    h("section", { class: "panel", "aria-labelledby": "h-extracted" }, h("h2", { id: "h-extracted" }, "Extracted"), extracted.childElementCount ? extracted : h("p", { class: "hint" }, "Nothing extracted yet.")),
    h("section", { class: "panel", "aria-labelledby": "h-revisions" }, h("h2", { id: "h-revisions" }, "Revisions"), revisionTable, doc.status === "deleted" ? null : h("div", { class: "spaced" }, h("label", { for: "replace" }, "Upload a new revision"), replace, replaceState)),
  );
  if (SETTLING.has(doc.status)) {
    const shownAt = location.hash;
    setTimeout(() => {
      if (location.hash === shownAt) refresh();
    }, 2000);
  }
}

// ---------------------------------------------------------------- routing

function markNav(path) {
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(1);
    const current = target === "/" ? path === "/" || path.startsWith("/documents") : path.startsWith(target);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  if (!credential()) {
    signInView();
    return;
  }
  nav.hidden = false;
  const path = (location.hash.slice(1) || "/").split("?")[0];
  markNav(path);
  const one = path.match(/^\/documents\/([^/]+)$/);
  if (one) documentView(decodeURIComponent(one[1]));
  else if (path === "/upload") uploadView();
  else if (path === "/trash") listView({ trash: true });
  else listView();
}

async function start() {
  document.getElementById("signout").addEventListener("click", signOut);
  whenUnauthorized(() => {
    forgetCredential();
    signInView("Your session has ended (the key is no longer accepted). Sign in again.");
  });
  config = await loadConfig();
  if (config.auth === "cognito") {
    try {
      await finishCognito(config.cognito);
    } catch (error) {
      signInView(errorText(error));
      return;
    }
  }
  window.addEventListener("hashchange", route);
  route();
}

start();

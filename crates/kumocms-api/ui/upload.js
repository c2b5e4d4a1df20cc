// Uploads through the public API: one signed PUT for a small file, the multipart
// protocol (signed part links, parts in parallel, complete) for a large one. The
// server decides which, from the size.

import { ApiError, call, post, seg } from "./api.js";

/** Parts sent at once for a multipart upload. */
const PARALLEL_PARTS = 4;
/** Part links asked for at once (the API takes up to 1,000). */
const SIGNING_BATCH = 100;
/** Files up to this size get their SHA-256 declared (it is read whole to hash it). */
const HASH_LIMIT = 64 * 1024 * 1024;
/** Headers a browser sets itself and refuses to be given. */
const BROWSER_HEADERS = new Set(["content-length", "host"]);

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** PUTs `blob` to a signed link, reporting bytes sent. Resolves to the ETag, if exposed. */
function put(link, blob, onSent) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(link.method || "PUT", link.url);
    for (const [name, value] of Object.entries(link.headers || {})) {
      if (!BROWSER_HEADERS.has(name.toLowerCase())) request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => onSent(event.loaded);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onSent(blob.size);
        resolve(request.getResponseHeader("ETag"));
        return;
      }
      let code = `http_${request.status}`;
      let message = `The upload was refused (${request.status}).`;
      try {
        const body = JSON.parse(request.responseText);
        code = body.error || code;
        message = body.message || message;
      } catch {
        // S3 answers XML; the status says enough.
      }
      reject(new ApiError(request.status, code, message));
    };
    request.onerror = () => reject(new ApiError(0, "network_error", "The upload lost its connection."));
    request.send(blob);
  });
}

/**
 * Uploads one file as a new document (or a new revision of `replace`).
 * `onProgress(sentBytes, totalBytes)`; resolves to the document as the API
 * answered the start (status `pending_upload` until the content is checked).
 */
export async function uploadFile(file, { documentType, replace, onProgress = () => {} } = {}) {
  if (file.size === 0) {
    throw new ApiError(400, "empty_file", `${file.name} is empty: there is nothing to upload.`);
  }
  const request = {
    file_name: file.name,
    file_size: file.size,
    content_type: file.type || "application/octet-stream",
  };
  if (file.size <= HASH_LIMIT) request.checksum_sha256 = await sha256Hex(file);
  if (documentType && !replace) request.document_type = documentType;
  const started = replace
    ? (await call("PUT", `/documents/${seg(replace)}`, { body: request })).body
    : (await post("/documents", request)).body;
  const upload = started.upload;
  if (upload.mode === "multipart") {
    await multipart(started.document_id, upload, file, onProgress);
  } else {
    await put(upload, file, (sent) => onProgress(sent, file.size));
  }
  return started;
}

async function multipart(id, upload, file, onProgress) {
  const base = `/documents/${seg(id)}/uploads/${seg(upload.upload_id)}`;
  const sent = new Map();
  const report = () => {
    let total = 0;
    for (const value of sent.values()) total += value;
    onProgress(total, file.size);
  };
  const numbers = Array.from({ length: upload.part_count }, (_, i) => i + 1);
  for (let at = 0; at < numbers.length; at += SIGNING_BATCH) {
    const batch = numbers.slice(at, at + SIGNING_BATCH);
    const links = (await post(`${base}/parts`, { part_numbers: batch })).body.parts;
    let next = 0;
    const worker = async () => {
      while (next < links.length) {
        const link = links[next++];
        const start = (link.part_number - 1) * upload.part_size;
        const blob = file.slice(start, start + link.size);
        await put(link, blob, (bytes) => {
          sent.set(link.part_number, bytes);
          report();
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, links.length) }, worker));
  }
  await post(`${base}/complete`, {});
}

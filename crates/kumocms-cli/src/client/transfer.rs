//! Moving bytes: uploads (one signed PUT, or the multipart protocol with parts in
//! parallel and a resume state in the cache directory) and downloads (Range resume,
//! SHA-256 verified). Every transfer is retried with backoff on network errors and 5xx.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backon::Retryable;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::api::{Api, CallError, backoff, encode_segment, path_segment, transfer_backoff};
use super::config;
use super::error::{ClientError, ErrorKind, Result};
use super::output::FileProgress;

/// Files up to this size are read once, hashed in memory and sent from the same bytes
/// (at most `--jobs` of them held at once); larger ones are hashed, then streamed.
const IN_MEMORY_UPLOAD: u64 = 8 * 1024 * 1024;
/// Part links asked for in one request (the protocol allows up to 1,000).
const SIGN_BATCH: usize = 64;
/// How long `put` waits for a completed multipart upload to become active.
const ACTIVATION_TIMEOUT: Duration = Duration::from_secs(600);

/// How `put` uploads.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub document_type: Option<String>,
    pub metadata: Option<serde_json::Map<String, Value>>,
    pub content_type: Option<String>,
    pub replace: Option<String>,
    /// Files this large or larger use the multipart protocol.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Parts sent at once.
    pub parallel: usize,
}

/// SHA-256 (hex) and size of a file, read once.
pub async fn hash_file(path: &Path) -> Result<(u64, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(u64, String)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1024 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(|e| file_error(&path, &e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
        Ok((size, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|e| ClientError::server(format!("hashing stopped: {e}")))?
}

fn file_error(path: &Path, error: &std::io::Error) -> ClientError {
    ClientError::usage(format!("{}: {error}", path.display()))
}

fn content_type_for(path: &Path, options: &UploadOptions) -> String {
    options.content_type.clone().unwrap_or_else(|| {
        mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned()
    })
}

fn file_name_of(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ClientError::usage(format!("{}: not a file name in UTF-8", path.display())))
}

/// What an interrupted multipart upload left, to resume it.
#[derive(Debug, Serialize, Deserialize)]
struct ResumeState {
    url: String,
    path: PathBuf,
    size: u64,
    modified_ns: u128,
    replace: Option<String>,
    document_id: String,
    upload_id: String,
    part_size: u64,
    part_count: u64,
}

fn modified_ns(metadata: &std::fs::Metadata) -> u128 {
    metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The state file for this file at this server (same path, size and mtime).
fn state_path(api: &Api, path: &Path, size: u64, mtime: u128) -> Result<PathBuf> {
    let key = format!("{}\n{}\n{size}\n{mtime}", api.target.url, path.display());
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    Ok(config::uploads_cache_dir()?.join(format!("{}.json", &digest[..32])))
}

/// Reads a whole file and hashes it (SHA-256, hex), off the async threads.
async fn read_and_hash(path: &Path) -> Result<(bytes::Bytes, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(bytes::Bytes, String)> {
        let bytes = std::fs::read(&path).map_err(|e| file_error(&path, &e))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok((bytes::Bytes::from(bytes), sha256))
    })
    .await
    .map_err(|e| ClientError::server(format!("reading stopped: {e}")))?
}

/// Uploads one file; returns the API's document object for it, without asking the
/// API again: for a single PUT, the create (or replace) answer with its `upload`
/// instructions taken out (the signed link is spent and never printed), so its
/// `status` is still `pending_upload` until the server has checked the content
/// (`kumocms wait ID`); for a multipart upload, the document once active.
pub async fn upload_file(
    api: &Api,
    path: &Path,
    options: &UploadOptions,
    progress: &FileProgress,
) -> Result<Value> {
    let absolute = std::path::absolute(path).map_err(|e| file_error(path, &e))?;
    let metadata = std::fs::metadata(&absolute).map_err(|e| file_error(path, &e))?;
    let size = metadata.len();
    let mtime = modified_ns(&metadata);
    if size >= options.multipart_threshold {
        let state_file = state_path(api, &absolute, size, mtime)?;
        if let Some(state) = load_state(&state_file)
            && state.replace == options.replace
        {
            match resume_multipart(api, &absolute, &state, &state_file, options, progress).await {
                Err(e) if e.kind == ErrorKind::NotFound => {
                    // The upload was completed, aborted or swept: start again.
                    let _ = std::fs::remove_file(&state_file);
                }
                other => return other,
            }
        }
    }
    let multipart = size >= options.multipart_threshold;
    // A file that is sent from memory is read once: hashed and sent from the same
    // bytes. A multipart upload is hashed while its parts are read to be sent (one
    // read of each byte), and its SHA-256 declared at completion.
    let (small, sha256) = if multipart {
        (None, None)
    } else {
        let (small, hashed_size, sha256) = if size <= IN_MEMORY_UPLOAD {
            let (bytes, sha256) = read_and_hash(&absolute).await?;
            let len = bytes.len() as u64;
            (Some(bytes), len, sha256)
        } else {
            let (len, sha256) = hash_file(&absolute).await?;
            (None, len, sha256)
        };
        if hashed_size != size {
            return Err(ClientError::usage(format!(
                "{}: the file changed while it was read",
                path.display()
            )));
        }
        (small, Some(sha256))
    };
    let file_name = file_name_of(&absolute)?;
    let mut body = json!({
        "file_name": file_name,
        "file_size": size,
        "content_type": content_type_for(&absolute, options),
    });
    if let Some(sha256) = sha256 {
        body["checksum_sha256"] = json!(sha256);
    }
    if multipart {
        body["upload_mode"] = json!("multipart");
        body["part_size"] = json!(options.part_size);
    }
    let mut created = match &options.replace {
        Some(id) => {
            api.call(
                reqwest::Method::PUT,
                &format!("/documents/{}", path_segment(id)?),
                &[],
                Some(&body),
                &[],
                true,
            )
            .await?
            .body
        }
        None => {
            if let Some(document_type) = &options.document_type {
                body["document_type"] = json!(document_type);
            }
            if let Some(metadata) = &options.metadata {
                body["metadata"] = Value::Object(metadata.clone());
            }
            api.post("/documents", &body, false).await?
        }
    };
    let id = created
        .get("document_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ClientError::server("the create answer has no document_id"))?
        .to_owned();
    let upload = created
        .as_object_mut()
        .and_then(|doc| doc.remove("upload"))
        .ok_or_else(|| ClientError::server("the create answer has no upload"))?;
    let upload = &upload;
    if upload.get("mode").and_then(Value::as_str) == Some("multipart") {
        let state = ResumeState {
            url: api.target.url.clone(),
            path: absolute.clone(),
            size,
            modified_ns: mtime,
            replace: options.replace.clone(),
            document_id: id,
            upload_id: str_field(upload, "upload_id")?.to_owned(),
            part_size: u64_field(upload, "part_size")?,
            part_count: u64_field(upload, "part_count")?,
        };
        let state_file = state_path(api, &absolute, size, mtime)?;
        save_state(&state_file, &state)?;
        return resume_multipart(api, &absolute, &state, &state_file, options, progress).await;
    }
    match small {
        Some(bytes) => {
            send_link(
                api,
                upload,
                || Ok(reqwest::Body::from(bytes.clone())),
                progress,
                size,
            )
            .await?;
        }
        None => put_stream(api, &absolute, size, upload, progress).await?,
    }
    progress.done();
    Ok(created)
}

fn str_field<'a>(value: &'a Value, name: &str) -> Result<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ClientError::server(format!("the server's answer has no {name}")))
}

fn u64_field(value: &Value, name: &str) -> Result<u64> {
    value
        .get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| ClientError::server(format!("the server's answer has no {name}")))
}

fn load_state(path: &Path) -> Option<ResumeState> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn save_state(path: &Path, state: &ResumeState) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec(state)
        .map_err(|e| ClientError::server(format!("cannot encode the upload state: {e}")))?;
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Sends a link's request with `body`, retrying network errors and 5xx.
async fn send_link(
    api: &Api,
    link: &Value,
    body: impl Fn() -> Result<reqwest::Body>,
    progress: &FileProgress,
    size: u64,
) -> Result<reqwest::header::HeaderMap> {
    let method = link
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("PUT")
        .parse::<reqwest::Method>()
        .map_err(|e| ClientError::server(format!("the link's method is not valid: {e}")))?;
    let url = str_field(link, "url")?;
    let tries = std::sync::atomic::AtomicUsize::new(0);
    let attempt = || async {
        let retried = tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0;
        let mut request = api
            .http
            .request(method.clone(), url)
            .body(body().map_err(CallError::Final)?);
        if let Some(headers) = link.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                if let Some(value) = value.as_str() {
                    request = request.header(name.as_str(), value);
                }
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::Retryable(api.network_error(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            progress.inc(size);
            return Ok(headers);
        }
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if retried
            && status == StatusCode::CONFLICT
            && body.get("error").and_then(Value::as_str) == Some("already_uploaded")
        {
            // An earlier try landed and only its answer was lost (a dropped
            // connection, a 5xx after the bytes were stored). The link takes one
            // upload of exactly the declared size and SHA-256, so those are our bytes.
            progress.inc(size);
            return Ok(headers);
        }
        let error = if body.get("error").is_some() {
            api.api_error(status, &body)
        } else {
            ClientError::new(
                ClientError::kind_of_status(status.as_u16()),
                format!(
                    "the upload link answered {status}: {}",
                    text.chars().take(300).collect::<String>()
                ),
            )
        };
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Err(CallError::for_status(status, &headers, error))
        } else {
            Err(CallError::Final(error))
        }
    };
    attempt
        .retry(transfer_backoff())
        .when(CallError::is_retryable)
        .adjust(CallError::wait)
        .await
        .map_err(CallError::into_inner)
}

/// One signed PUT of a file too large to hold in memory. Streamed: the bar moves with
/// the bytes, and a retry takes them back.
async fn put_stream(
    api: &Api,
    path: &Path,
    size: u64,
    link: &Value,
    progress: &FileProgress,
) -> Result<()> {
    let streamed = FileProgress::clone(progress);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let open = || -> Result<reqwest::Body> {
        let file = std::fs::File::open(path).map_err(|e| file_error(path, &e))?;
        let bar = streamed.clone();
        bar.undo(sent.swap(0, std::sync::atomic::Ordering::Relaxed));
        let counter = sent.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(
            tokio::fs::File::from_std(file),
            256 * 1024,
        )
        .inspect_ok(move |chunk| {
            bar.inc(chunk.len() as u64);
            counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        });
        Ok(reqwest::Body::wrap_stream(stream))
    };
    send_link(api, link, open, &FileProgress::hidden(), size).await?;
    Ok(())
}

/// The multipart protocol from wherever the server has got to: list the parts
/// received, sign and send the others `parallel` at a time, complete, wait for active.
async fn resume_multipart(
    api: &Api,
    path: &Path,
    state: &ResumeState,
    state_file: &Path,
    options: &UploadOptions,
    progress: &FileProgress,
) -> Result<Value> {
    let id = path_segment(&state.document_id)?;
    let upload_id = encode_segment(&state.upload_id);
    let uploads = format!("/documents/{id}/uploads/{upload_id}");
    let listed = api.get(&format!("{uploads}/parts"), &[]).await?;
    let received: BTreeSet<u64> = listed
        .get("parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("part_number").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default();
    let part_len = |n: u64| {
        if n == state.part_count {
            state.size - (state.part_count - 1) * state.part_size
        } else {
            state.part_size
        }
    };
    let already: u64 = received.iter().map(|&n| part_len(n)).sum();
    progress.inc(already);
    if !received.is_empty() {
        tracing::info!(
            received = received.len(),
            part_count = state.part_count,
            "resuming a multipart upload"
        );
        eprintln!(
            "{}: resuming: {} of {} parts already received",
            path.display(),
            received.len(),
            state.part_count
        );
    }
    let missing: Vec<u64> = (1..=state.part_count)
        .filter(|n| !received.contains(n))
        .collect();
    // Every part is read once, in order, and fed to the file's SHA-256 on the way
    // (parts already received too, only not sent); the parts to send go `parallel`
    // at a time while the next one is read. Links are signed a batch at a time, just
    // before they are needed.
    let hasher = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
    let links = tokio::sync::Mutex::new(SignedParts::default());
    let (received, missing, links, hasher, parts_path) =
        (&received, &missing, &links, &hasher, uploads.as_str());
    futures_util::stream::iter(1..=state.part_count)
        .then(|number| async move {
            let size = part_len(number);
            let offset = (number - 1) * state.part_size;
            let bytes = read_and_feed(path, offset, size, hasher.clone()).await?;
            if received.contains(&number) {
                return Ok(None);
            }
            let link = links
                .lock()
                .await
                .link_for(api, parts_path, missing, number)
                .await?;
            Ok(Some((number, link, bytes)))
        })
        .try_filter_map(|prepared| async move { Ok(prepared) })
        .map_ok(
            |(number, link, bytes): (u64, Value, bytes::Bytes)| async move {
                send_link(
                    api,
                    &link,
                    || Ok(reqwest::Body::from(bytes.clone())),
                    progress,
                    part_len(number),
                )
                .await
                .map(|_| ())
            },
        )
        .try_buffer_unordered(options.parallel.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    let sha256 = {
        let hasher = hasher
            .lock()
            .map_err(|_| ClientError::server("hashing stopped"))?;
        hex::encode(hasher.clone().finalize())
    };
    api.post(
        &format!("{uploads}/complete"),
        &json!({ "checksum_sha256": sha256 }),
        true,
    )
    .await?;
    let _ = std::fs::remove_file(state_file);
    progress.done();
    wait_for(api, id, |doc| {
        doc.get("status").and_then(Value::as_str) == Some("active")
            && doc.get("pending_upload").is_none()
    })
    .await
}

/// Part links signed so far and not yet used, and how far into the missing parts
/// the signing has got.
#[derive(Default)]
struct SignedParts {
    links: std::collections::HashMap<u64, Value>,
    signed: usize,
}

impl SignedParts {
    /// The link for part `number`, signing the next batch of `missing` parts (sorted,
    /// taken in order) when it has none.
    async fn link_for(
        &mut self,
        api: &Api,
        uploads: &str,
        missing: &[u64],
        number: u64,
    ) -> Result<Value> {
        while !self.links.contains_key(&number) && self.signed < missing.len() {
            let batch = &missing[self.signed..(self.signed + SIGN_BATCH).min(missing.len())];
            self.signed += batch.len();
            let signed = api
                .post(
                    &format!("{uploads}/parts"),
                    &json!({ "part_numbers": batch }),
                    true,
                )
                .await?;
            for link in signed
                .get("parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                self.links.insert(u64_field(&link, "part_number")?, link);
            }
        }
        self.links.remove(&number).ok_or_else(|| {
            ClientError::server(format!("the server signed no link for part {number}"))
        })
    }
}

/// Reads `size` bytes at `offset` and feeds them to `hasher` (off the async threads).
async fn read_and_feed(
    path: &Path,
    offset: u64,
    size: u64,
    hasher: std::sync::Arc<std::sync::Mutex<Sha256>>,
) -> Result<bytes::Bytes> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<bytes::Bytes> {
        use std::io::{Read as _, Seek as _};
        let mut file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
        let len = usize::try_from(size).map_err(|_| ClientError::usage("part too large"))?;
        // Read into spare capacity: no zeroing of a buffer about to be overwritten.
        let mut buffer = Vec::with_capacity(len);
        file.seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| file_error(&path, &e))?;
        (&mut file)
            .take(size)
            .read_to_end(&mut buffer)
            .map_err(|e| file_error(&path, &e))?;
        if buffer.len() != len {
            return Err(ClientError::usage(format!(
                "{}: the file changed while it was read (shorter than when the upload started)",
                path.display()
            )));
        }
        hasher
            .lock()
            .map_err(|_| ClientError::server("hashing stopped"))?
            .update(&buffer);
        Ok(bytes::Bytes::from(buffer))
    })
    .await
    .map_err(|e| ClientError::server(format!("reading a part stopped: {e}")))?
}

/// Polls `GET /documents/{id}` until `done` holds (or ten minutes pass).
pub async fn wait_for(api: &Api, id: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    wait_for_within(api, id, ACTIVATION_TIMEOUT, done).await
}

pub async fn wait_for_within(
    api: &Api,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pause = Duration::from_millis(25);
    loop {
        let doc = api.document(id).await?;
        if done(&doc) {
            return Ok(doc);
        }
        if Instant::now() >= deadline {
            return Err(ClientError::server(format!(
                "document {id} is still {} after {} s",
                doc.get("status").and_then(Value::as_str).unwrap_or("?"),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        // Short pauses for the first minute (a large upload becomes active seconds
        // after it completes: a longer pause would add seconds to every `put`), then
        // up to 2 s for long waits such as a restore.
        let cap = if started.elapsed() < Duration::from_secs(60) {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(2)
        };
        pause = (pause * 2).min(cap);
    }
}

/// Where a download goes.
pub enum Destination {
    Stdout,
    File(PathBuf),
}

/// The partial file a download writes before it is verified and renamed.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".kumocms-partial");
    PathBuf::from(name)
}

/// Downloads the content `info` (a document or a revision) describes, verifying its
/// SHA-256. A partial file from an interrupted run is resumed with `Range`.
pub async fn download(
    api: &Api,
    info: &Value,
    destination: &Destination,
    progress: &FileProgress,
) -> Result<()> {
    let link = info.get("download").ok_or_else(|| {
        let status = info.get("status").and_then(Value::as_str).unwrap_or("");
        let hint = match status {
            "archived" => " (status archived: `kumocms restore ID --days D` first)",
            "restoring" => " (status restoring: `kumocms wait ID --status restored`)",
            "pending_upload" => " (status pending_upload: its content has not arrived)",
            "deleted" => " (status deleted: `kumocms undelete ID` first)",
            _ => "",
        };
        ClientError::new(
            ErrorKind::Conflict,
            format!("the content cannot be read now{hint}"),
        )
    })?;
    let expected = info
        .get("checksum_sha256")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match destination {
        Destination::Stdout => {
            let (_, digest) = fetch(api, link, 0, None, progress).await?;
            verify(expected.as_deref(), &digest)
        }
        Destination::File(path) => {
            let partial = partial_path(path);
            let attempt = || async {
                let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
                let (_, digest) = fetch(api, link, have, Some(&partial), progress)
                    .await
                    .map_err(|e| {
                        if e.kind == ErrorKind::Server {
                            CallError::Retryable(e)
                        } else {
                            CallError::Final(e)
                        }
                    })?;
                if let Err(e) = verify(expected.as_deref(), &digest) {
                    // A bad partial file (or bad bytes): never kept, so the next try
                    // starts from zero.
                    let _ = std::fs::remove_file(&partial);
                    return Err(if have > 0 {
                        CallError::Retryable(e)
                    } else {
                        CallError::Final(e)
                    });
                }
                Ok(())
            };
            attempt
                .retry(backoff().with_max_times(3))
                .when(CallError::is_retryable)
                .await
                .map_err(CallError::into_inner)?;
            std::fs::rename(&partial, path).map_err(|e| file_error(path, &e))?;
            Ok(())
        }
    }
}

fn verify(expected: Option<&str>, digest: &str) -> Result<()> {
    match expected {
        Some(expected) if expected != digest => Err(ClientError::server(format!(
            "the downloaded bytes do not match the document's SHA-256 (expected {expected}, got {digest}); nothing was kept"
        ))),
        _ => Ok(()),
    }
}

/// One GET of a download link from byte `from`, appended to `partial` (or written to
/// stdout). Returns the bytes now held and their SHA-256.
async fn fetch(
    api: &Api,
    link: &Value,
    from: u64,
    partial: Option<&Path>,
    progress: &FileProgress,
) -> Result<(u64, String)> {
    let url = str_field(link, "url")?;
    let mut request = api.http.get(url);
    if let Some(headers) = link.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
    }
    if from > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
    }
    let response = request.send().await.map_err(|e| api.network_error(&e))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return Err(if body.get("error").is_some() {
            api.api_error(status, &body)
        } else {
            ClientError::new(
                ClientError::kind_of_status(status.as_u16()),
                format!("the download link answered {status}"),
            )
        });
    }
    // 206: the server sent the rest; 200: it sent everything (Range not honoured).
    let resumed = status == StatusCode::PARTIAL_CONTENT && from > 0;
    let mut hasher = Sha256::new();
    let mut held = 0u64;
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match partial {
        Some(partial) => {
            if resumed {
                // Hash what is already there, then append.
                let (fed, existing) = hash_prefix(partial, hasher).await?;
                hasher = fed;
                held = existing;
                progress.inc(held);
                Box::new(
                    tokio::fs::OpenOptions::new()
                        .append(true)
                        .open(partial)
                        .await?,
                )
            } else {
                Box::new(tokio::fs::File::create(partial).await?)
            }
        }
        None => Box::new(tokio::io::stdout()),
    };
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| api.network_error(&e))?;
        hasher.update(&chunk);
        sink.write_all(&chunk).await?;
        held += chunk.len() as u64;
        progress.inc(chunk.len() as u64);
    }
    sink.flush().await?;
    Ok((held, hex::encode(hasher.finalize())))
}

/// Feeds a file's bytes into `hasher` (streamed, off the async threads).
async fn hash_prefix(path: &Path, mut hasher: Sha256) -> Result<(Sha256, u64)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(Sha256, u64)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
        let mut buffer = vec![0u8; 1024 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(|e| file_error(&path, &e))?;
            if n == 0 {
                return Ok((hasher, size));
            }
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
    })
    .await
    .map_err(|e| ClientError::server(format!("hashing stopped: {e}")))?
}

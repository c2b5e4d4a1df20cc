//! The client subcommands: their flags (clap) and what each does through the API.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::api::{Api, path_segment};
use super::config::{self, ConnectionArgs, Profile};
use super::error::{ClientError, ErrorKind, Result};
use super::output::{self, FileProgress, Progress};
use super::transfer::{self, Destination, UploadOptions};

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Save a server URL and API key as a named profile (checked against the server first).
    Login {
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Upload files (directories recursively); prints each document's id. With
    /// --json, the API's document object per file as the upload left it: for a single
    /// PUT the create answer (status pending_upload until the server has checked the
    /// content; `kumocms wait ID`), for a multipart upload the active document.
    Put(PutArgs),
    /// Download a document's content (or one revision's), verifying its SHA-256.
    Get {
        id: String,
        /// Where to write it: a path, or `-` for stdout. Default: the document's file name.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// A kept revision instead of the current content.
        #[arg(long)]
        revision: Option<u32>,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// List documents, with every filter of the listing and search API.
    Ls(ListArgs),
    /// Search documents: `ls` with a full-text query.
    Search {
        /// The full-text query (`q`).
        #[arg(value_name = "QUERY")]
        text: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show one document.
    Show {
        id: String,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Set (k=v, or k:=JSON) and remove (--unset k) metadata keys. Uses If-Match: a
    /// document changed by someone else meanwhile is reported (exit 3), not overwritten.
    Meta {
        id: String,
        /// `key=value` (a string) or `key:=json` (any JSON value).
        pairs: Vec<String>,
        /// Keys to remove.
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
        /// Apply only if the document is still at this ETag (default: the one just read).
        #[arg(long, conflicts_with = "force")]
        if_match: Option<String>,
        /// Apply without If-Match, over any concurrent change.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// List a document's kept revisions, newest first.
    Revisions {
        id: String,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Make revision N current again (copied into a new revision).
    RestoreRevision {
        id: String,
        revision: u32,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Delete a document into the trash (or purge it at once with --permanent).
    Rm {
        id: String,
        /// Purge at once: record, every revision, sidecars.
        #[arg(long)]
        permanent: bool,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Bring a document back from the trash.
    Undelete {
        id: String,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Move a document's content to an archive storage class.
    Archive {
        id: String,
        /// GLACIER (default) or DEEP_ARCHIVE.
        #[arg(long)]
        storage_class: Option<String>,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Restore an archived document's content for D days.
    Restore {
        id: String,
        /// Days the restored copy stays readable (1 to 365).
        #[arg(long)]
        days: u32,
        /// Standard (default), Bulk or Expedited.
        #[arg(long)]
        tier: Option<String>,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
    /// Wait until a document reaches a status (default: active).
    Wait {
        id: String,
        #[arg(long, default_value = "active")]
        status: String,
        /// Give up after this many seconds (exit 5).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        conn: ConnectionArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// Files and directories (uploaded recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The document_type of new documents.
    #[arg(long = "type")]
    document_type: Option<String>,
    /// Metadata of new documents: `key=value` or `key:=json`, repeatable.
    #[arg(long = "meta", value_name = "K=V")]
    meta: Vec<String>,
    /// Upload the one file as a new revision of this document.
    #[arg(long, value_name = "ID")]
    replace: Option<String>,
    /// The content type (default: guessed from the file name).
    #[arg(long)]
    content_type: Option<String>,
    /// Parts of one large file sent at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Files uploaded at once. Each small file is two round trips (create, signed
    /// PUT), so against a remote API the rate is about jobs / round-trip time.
    #[arg(long, default_value_t = 32)]
    jobs: usize,
    /// Files this large or larger use the multipart protocol (bytes).
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    multipart_threshold: u64,
    /// Part size proposed for multipart uploads (bytes, at least 5 MiB).
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    part_size: u64,
    #[command(flatten)]
    conn: ConnectionArgs,
}

/// `GET /documents` filters, passed through only when given.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this document_type.
    #[arg(long = "type")]
    document_type: Option<String>,
    /// Only this status (e.g. active, deleted, archived).
    #[arg(long)]
    status: Option<String>,
    /// Full-text query (`q`).
    #[arg(long = "query", visible_alias = "q")]
    text_query: Option<String>,
    /// Metadata equality, `key=value`, repeatable (`meta.<key>=<value>`).
    #[arg(long = "meta", value_name = "K=V")]
    meta: Vec<String>,
    /// Only this content type.
    #[arg(long)]
    content_type: Option<String>,
    /// Only this file name.
    #[arg(long)]
    file_name: Option<String>,
    #[arg(long, value_name = "RFC3339")]
    created_after: Option<String>,
    #[arg(long, value_name = "RFC3339")]
    created_before: Option<String>,
    #[arg(long, value_name = "RFC3339")]
    updated_after: Option<String>,
    #[arg(long, value_name = "RFC3339")]
    updated_before: Option<String>,
    /// Smallest size in bytes.
    #[arg(long)]
    min_size: Option<u64>,
    /// Largest size in bytes.
    #[arg(long)]
    max_size: Option<u64>,
    /// created_at, updated_at, file_name, size or relevance; `-` first for descending.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// Page size (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Start from this `next_cursor`.
    #[arg(long)]
    cursor: Option<String>,
    /// Follow `next_cursor` to the last page.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

impl ListArgs {
    fn query(&self, q: Option<&str>) -> Result<Vec<(String, String)>> {
        let mut query = Vec::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                query.push((name.to_owned(), value));
            }
        };
        add(
            "q",
            q.map(str::to_owned).or_else(|| self.text_query.clone()),
        );
        add("type", self.document_type.clone());
        add("status", self.status.clone());
        add("content_type", self.content_type.clone());
        add("file_name", self.file_name.clone());
        add("created_after", self.created_after.clone());
        add("created_before", self.created_before.clone());
        add("updated_after", self.updated_after.clone());
        add("updated_before", self.updated_before.clone());
        add("min_size", self.min_size.map(|n| n.to_string()));
        add("max_size", self.max_size.map(|n| n.to_string()));
        add("sort", self.sort.clone());
        add("limit", self.limit.map(|n| n.to_string()));
        add("cursor", self.cursor.clone());
        for pair in &self.meta {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                ClientError::usage(format!("--meta {pair:?}: expected KEY=VALUE"))
            })?;
            query.push((format!("meta.{key}"), value.to_owned()));
        }
        Ok(query)
    }
}

/// Parses `k=v` (string) and `k:=json` pairs.
fn parse_pairs(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for pair in pairs {
        if let Some((key, json)) = pair.split_once(":=")
            && !key.contains('=')
        {
            let value: Value = serde_json::from_str(json).map_err(|e| {
                ClientError::usage(format!("{pair:?}: the value after := is not JSON ({e})"))
            })?;
            map.insert(key.to_owned(), value);
        } else if let Some((key, value)) = pair.split_once('=') {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        } else {
            return Err(ClientError::usage(format!(
                "{pair:?}: expected KEY=VALUE or KEY:=JSON"
            )));
        }
        if map.keys().any(String::is_empty) {
            return Err(ClientError::usage(format!("{pair:?}: the key is empty")));
        }
    }
    Ok(map)
}

fn api_for(conn: &ConnectionArgs) -> Result<Api> {
    Api::new(conn.resolve()?)
}

fn print_doc(conn: &ConnectionArgs, doc: &Value) {
    if conn.json {
        output::print_json(doc);
    } else {
        crate::say!("{}", output::document_text(doc).trim_end());
    }
}

pub async fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Login { conn } => login(conn).await,
        ClientCommand::Put(args) => put(args).await,
        ClientCommand::Get {
            id,
            output,
            revision,
            conn,
        } => get(&conn, &id, output, revision).await,
        ClientCommand::Ls(args) => list(&args, None).await,
        ClientCommand::Search { text, list: args } => list(&args, Some(&text)).await,
        ClientCommand::Show { id, conn } => {
            let doc = api_for(&conn)?.document(&id).await?;
            print_doc(&conn, &doc);
            Ok(())
        }
        ClientCommand::Meta {
            id,
            pairs,
            unset,
            if_match,
            force,
            conn,
        } => meta(&conn, &id, &pairs, &unset, if_match, force).await,
        ClientCommand::Revisions { id, conn } => revisions(&conn, &id).await,
        ClientCommand::RestoreRevision { id, revision, conn } => {
            let api = api_for(&conn)?;
            let path = format!(
                "/documents/{}/revisions/{revision}/restore",
                path_segment(&id)?
            );
            let doc = api.post(&path, &json!({}), false).await?;
            print_doc(&conn, &doc);
            Ok(())
        }
        ClientCommand::Rm {
            id,
            permanent,
            conn,
        } => {
            let api = api_for(&conn)?;
            let path = format!("/documents/{}", path_segment(&id)?);
            let query = if permanent {
                vec![("permanent".to_owned(), "true".to_owned())]
            } else {
                Vec::new()
            };
            api.call(Method::DELETE, &path, &query, None, &[], true)
                .await?;
            if permanent {
                // Nothing is left to show: the API answers 204 and the record is gone.
                if conn.json {
                    output::print_json(&json!({"document_id": id, "purged": true}));
                } else {
                    crate::say!("{id} purged");
                }
            } else {
                let doc = api.document(&id).await?;
                if conn.json {
                    output::print_json(&doc);
                } else {
                    crate::say!(
                        "{id} moved to the trash (purged at {})",
                        doc.get("purge_at").and_then(Value::as_str).unwrap_or("?")
                    );
                }
            }
            Ok(())
        }
        ClientCommand::Undelete { id, conn } => {
            let api = api_for(&conn)?;
            let path = format!("/documents/{}/undelete", path_segment(&id)?);
            let doc = api.post(&path, &json!({}), false).await?;
            print_doc(&conn, &doc);
            Ok(())
        }
        ClientCommand::Archive {
            id,
            storage_class,
            conn,
        } => {
            let api = api_for(&conn)?;
            let path = format!("/documents/{}/archive", path_segment(&id)?);
            let body = match storage_class {
                Some(class) => json!({ "storage_class": class }),
                None => json!({}),
            };
            let doc = api.post(&path, &body, false).await?;
            print_doc(&conn, &doc);
            Ok(())
        }
        ClientCommand::Restore {
            id,
            days,
            tier,
            conn,
        } => {
            let api = api_for(&conn)?;
            let path = format!("/documents/{}/restore", path_segment(&id)?);
            let mut body = json!({ "days": days });
            if let Some(tier) = tier {
                body["tier"] = json!(tier);
            }
            let doc = api.post(&path, &body, false).await?;
            print_doc(&conn, &doc);
            Ok(())
        }
        ClientCommand::Wait {
            id,
            status,
            timeout,
            conn,
        } => {
            let api = api_for(&conn)?;
            path_segment(&id)?;
            let doc = transfer::wait_for_within(&api, &id, Duration::from_secs(timeout), |doc| {
                doc.get("status").and_then(Value::as_str) == Some(status.as_str())
            })
            .await?;
            print_doc(&conn, &doc);
            Ok(())
        }
    }
}

async fn login(conn: ConnectionArgs) -> Result<()> {
    let url = conn.url.clone().ok_or_else(|| {
        ClientError::usage("login needs the server: pass --url (or set KUMOCMS_URL)")
    })?;
    let api_key = match conn.explicit_key()? {
        Some(key) => key,
        None => {
            eprint!("API key: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    if api_key.is_empty() {
        return Err(ClientError::usage("login needs an API key"));
    }
    let profile = Profile {
        url: url.trim_end_matches('/').to_owned(),
        api_key: api_key.clone(),
    };
    // Checked before it is saved: a wrong URL or key is reported now, not later.
    let api = Api::new(config::Target {
        url: profile.url.clone(),
        api_key: Some(api_key),
    })?;
    api.get("/documents", &[("limit".to_owned(), "1".to_owned())])
        .await?;
    let name = conn.profile_name().to_owned();
    let path = config::save_profile(&name, profile.clone())?;
    if conn.json {
        output::print_json(&json!({"profile": name, "url": profile.url, "path": path}));
    } else {
        crate::say!(
            "profile {name:?} saved in {} ({})",
            path.display(),
            profile.url
        );
    }
    Ok(())
}

/// Every file under the paths given (directories walked recursively, sorted).
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|e| ClientError::usage(format!("{}: {e}", path.display())))?;
        if metadata.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| ClientError::usage(e.to_string()))?;
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

async fn put(args: PutArgs) -> Result<()> {
    let api = api_for(&args.conn)?;
    let files = collect_files(&args.paths)?;
    if args.replace.is_some() && files.len() != 1 {
        return Err(ClientError::usage(
            "--replace takes exactly one file (the new revision's content)",
        ));
    }
    if args.replace.is_some() && (args.document_type.is_some() || !args.meta.is_empty()) {
        return Err(ClientError::usage(
            "--type and --meta apply to new documents; with --replace use `kumocms meta`",
        ));
    }
    let metadata = if args.meta.is_empty() {
        None
    } else {
        Some(parse_pairs(&args.meta)?)
    };
    let options = Arc::new(UploadOptions {
        document_type: args.document_type.clone(),
        metadata,
        content_type: args.content_type.clone(),
        replace: args.replace.clone(),
        multipart_threshold: args.multipart_threshold,
        part_size: args.part_size,
        parallel: args.parallel,
    });
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::new(total, &format!("{} file(s)", files.len()));
    let results: Vec<(usize, Result<Value>)> =
        futures_util::stream::iter(files.iter().enumerate().map(|(index, path)| {
            let api = api.clone();
            let options = options.clone();
            let progress = progress.clone();
            async move {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                // Bars for files big enough to watch; small ones count in the total.
                let bar = if size >= 1024 * 1024 {
                    progress.file(&name, size)
                } else {
                    progress.file_in_total()
                };
                let result = transfer::upload_file(&api, path, &options, &bar).await;
                bar.done();
                (index, result)
            }
        }))
        .buffer_unordered(args.jobs.max(1))
        .collect()
        .await;
    progress.finish();
    let mut ordered: Vec<Option<Result<Value>>> = (0..files.len()).map(|_| None).collect();
    for (index, result) in results {
        ordered[index] = Some(result);
    }
    let mut documents = Vec::new();
    let mut first_error: Option<ClientError> = None;
    let mut failed = 0usize;
    for (path, result) in files.iter().zip(ordered) {
        match result {
            Some(Ok(doc)) => {
                if !args.conn.json {
                    crate::say!(
                        "{}  {}",
                        doc.get("document_id")
                            .and_then(Value::as_str)
                            .unwrap_or("?"),
                        path.display()
                    );
                }
                documents.push(doc);
            }
            Some(Err(e)) => {
                eprintln!("error: {}: {e}", path.display());
                failed += 1;
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    if args.conn.json {
        output::print_json(&Value::Array(documents));
    }
    match first_error {
        // Each failure was printed above; the exit code is the first one's.
        Some(e) => Err(ClientError::new(
            e.kind,
            format!("{failed} of {} file(s) not uploaded", files.len()),
        )),
        None => Ok(()),
    }
}

async fn get(
    conn: &ConnectionArgs,
    id: &str,
    output: Option<PathBuf>,
    revision: Option<u32>,
) -> Result<()> {
    let api = api_for(conn)?;
    let id = path_segment(id)?;
    let info = match revision {
        Some(n) => {
            api.get(&format!("/documents/{id}/revisions/{n}"), &[])
                .await?
        }
        None => api.document(id).await?,
    };
    let destination = match output {
        Some(path) if path.as_os_str() == "-" => Destination::Stdout,
        Some(path) => Destination::File(path),
        None => {
            let name = info
                .get("file_name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && !n.contains('/') && *n != "." && *n != "..")
                .ok_or_else(|| ClientError::usage("the document has no file name; pass -o PATH"))?;
            Destination::File(PathBuf::from(name))
        }
    };
    let size = info.get("size").and_then(Value::as_u64).unwrap_or(0);
    let to_stdout = matches!(destination, Destination::Stdout);
    let progress = if to_stdout {
        None
    } else {
        Some(Progress::new(size, "download"))
    };
    let bar = progress
        .as_ref()
        .map_or_else(FileProgress::hidden, |p| p.file_in_total());
    transfer::download(&api, &info, &destination, &bar).await?;
    if let Some(progress) = progress {
        progress.finish();
    }
    if let Destination::File(path) = &destination {
        if conn.json {
            output::print_json(&info);
        } else {
            crate::say!("{}  {} bytes, SHA-256 verified", path.display(), size);
        }
    }
    Ok(())
}

async fn list(args: &ListArgs, q: Option<&str>) -> Result<()> {
    let api = api_for(&args.conn)?;
    let mut query = args.query(q)?;
    let mut documents = Vec::new();
    loop {
        let page = api.get("/documents", &query).await?;
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if !args.all {
            if args.conn.json {
                output::print_json(&page);
            } else {
                for doc in page
                    .get("documents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    crate::say!("{}", output::document_line(doc));
                }
                if let Some(next) = &next {
                    eprintln!("more: --cursor {next} (or --all)");
                }
            }
            return Ok(());
        }
        let items = page
            .get("documents")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !args.conn.json {
            for doc in &items {
                crate::say!("{}", output::document_line(doc));
            }
        }
        documents.extend(items);
        match next {
            Some(cursor) => {
                query.retain(|(name, _)| name != "cursor");
                query.push(("cursor".to_owned(), cursor));
            }
            None => break,
        }
    }
    if args.conn.json {
        // Every page joined into one page of the API's shape (no next_cursor).
        output::print_json(&json!({"documents": documents, "count": documents.len()}));
    }
    Ok(())
}

async fn meta(
    conn: &ConnectionArgs,
    id: &str,
    pairs: &[String],
    unset: &[String],
    if_match: Option<String>,
    force: bool,
) -> Result<()> {
    let api = api_for(conn)?;
    let id = path_segment(id)?;
    let mut patch = parse_pairs(pairs)?;
    for key in unset {
        patch.insert(key.clone(), Value::Null);
    }
    if patch.is_empty() {
        return Err(ClientError::usage(
            "nothing to change: give KEY=VALUE or --unset KEY",
        ));
    }
    let etag = match (if_match, force) {
        (Some(etag), _) => Some(etag),
        (None, true) => None,
        (None, false) => {
            let doc = api.document(id).await?;
            doc.get("etag").and_then(Value::as_str).map(str::to_owned)
        }
    };
    let headers: Vec<(&str, String)> = etag.iter().map(|e| ("If-Match", e.clone())).collect();
    let answer = api
        .call(
            Method::PATCH,
            &format!("/documents/{id}"),
            &[],
            Some(&json!({ "metadata": patch })),
            &headers,
            false,
        )
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                ClientError::new(
                    ErrorKind::Conflict,
                    format!(
                        "{id} was changed by someone else since it was read ({}); nothing was overwritten: look at it again (`kumocms show {id}`) and retry",
                        e.message
                    ),
                )
            } else {
                e
            }
        })?;
    print_doc(conn, &answer.body);
    Ok(())
}

async fn revisions(conn: &ConnectionArgs, id: &str) -> Result<()> {
    let api = api_for(conn)?;
    let id = path_segment(id)?;
    let mut query: Vec<(String, String)> = Vec::new();
    let mut all = Vec::new();
    loop {
        let page = api
            .get(&format!("/documents/{id}/revisions"), &query)
            .await?;
        all.extend(
            page.get("revisions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(cursor) => query = vec![("cursor".to_owned(), cursor.to_owned())],
            None => break,
        }
    }
    if conn.json {
        output::print_json(&json!({"revisions": all, "count": all.len()}));
    } else {
        for rev in &all {
            crate::say!(
                "{:>4}{} {:>12}  {}  {}  {}",
                rev.get("revision").and_then(Value::as_u64).unwrap_or(0),
                if rev.get("current").and_then(Value::as_bool) == Some(true) {
                    "*"
                } else {
                    " "
                },
                rev.get("size").and_then(Value::as_u64).unwrap_or(0),
                rev.get("created_at").and_then(Value::as_str).unwrap_or("-"),
                rev.get("storage_class")
                    .and_then(Value::as_str)
                    .unwrap_or("-"),
                rev.get("file_name").and_then(Value::as_str).unwrap_or("-"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(subcommand)]
        command: ClientCommand,
    }

    fn query_of(args: &[&str]) -> Vec<(String, String)> {
        let parsed =
            Wrapper::try_parse_from(std::iter::once("kumocms").chain(args.iter().copied()))
                .unwrap();
        match parsed.command {
            ClientCommand::Ls(list) => list.query(None).unwrap(),
            ClientCommand::Search { text, list } => list.query(Some(&text)).unwrap(),
            _ => panic!("not a listing command"),
        }
    }

    /// Every search filter (issue 13) reaches the API under its own parameter name,
    /// and nothing is sent that was not given (the listing refuses unknown parameters).
    #[test]
    fn every_listing_and_search_flag_is_passed_through_under_the_api_name() {
        let query = query_of(&[
            "ls",
            "--q",
            "annual report",
            "--type",
            "invoice",
            "--status",
            "active",
            "--meta",
            "author=Ada",
            "--meta",
            "year=2024",
            "--content-type",
            "application/pdf",
            "--file-name",
            "r.pdf",
            "--created-after",
            "2024-01-01T00:00:00Z",
            "--created-before",
            "2025-01-01T00:00:00Z",
            "--updated-after",
            "2024-02-01T00:00:00Z",
            "--updated-before",
            "2025-02-01T00:00:00Z",
            "--min-size",
            "10",
            "--max-size",
            "20",
            "--sort",
            "-size",
            "--limit",
            "5",
            "--cursor",
            "abc.def",
        ]);
        let expected: Vec<(String, String)> = [
            ("q", "annual report"),
            ("type", "invoice"),
            ("status", "active"),
            ("content_type", "application/pdf"),
            ("file_name", "r.pdf"),
            ("created_after", "2024-01-01T00:00:00Z"),
            ("created_before", "2025-01-01T00:00:00Z"),
            ("updated_after", "2024-02-01T00:00:00Z"),
            ("updated_before", "2025-02-01T00:00:00Z"),
            ("min_size", "10"),
            ("max_size", "20"),
            ("sort", "-size"),
            ("limit", "5"),
            ("cursor", "abc.def"),
            ("meta.author", "Ada"),
            ("meta.year", "2024"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(query, expected);
        assert!(query_of(&["ls"]).is_empty());
        assert_eq!(
            query_of(&["search", "tax 2024", "--sort", "relevance"]),
            [
                ("q".to_owned(), "tax 2024".to_owned()),
                ("sort".to_owned(), "relevance".to_owned())
            ]
        );
    }

    #[test]
    fn metadata_pairs_are_strings_or_json() {
        let map = parse_pairs(&[
            "a=1".into(),
            "b:=1".into(),
            "c=x:=y".into(),
            "d:={\"e\":[1]}".into(),
        ])
        .unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a": "1", "b": 1, "c": "x:=y", "d": {"e": [1]}})
        );
        assert!(parse_pairs(&["novalue".into()]).is_err());
        assert!(parse_pairs(&["=v".into()]).is_err());
        assert!(parse_pairs(&["k:=not json".into()]).is_err());
    }
}

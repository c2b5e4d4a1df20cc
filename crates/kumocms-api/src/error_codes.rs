//! Every `error` code an operation of the API answers with, and which operations
//! answer which: the one source of the error responses in the OpenAPI document
//! (`openapi.rs` builds each operation's 4xx and 5xx responses from
//! [`OPERATION_ERRORS`], with the codes as an `enum` on `error` and listed in the
//! description). The codes themselves are made where the errors are (`validate`,
//! `lifecycle`, `query` in the core, `body`/`error` here); a test reads those
//! sources and fails on a code missing from [`ERROR_CODES`].

/// One code, the status it comes with, and what the client should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    pub meaning: &'static str,
}

const fn code(code: &'static str, status: u16, meaning: &'static str) -> ErrorCode {
    ErrorCode {
        code,
        status,
        meaning,
    }
}

/// Every code of every operation. A code may come with two statuses (`missing_parts`:
/// 409 from the service's own check, 400 when the local store finds a part short).
pub const ERROR_CODES: &[ErrorCode] = &[
    // The request itself.
    code(
        "invalid_document_id",
        400,
        "the `{id}` in the path is not a document id (a ULID)",
    ),
    code(
        "invalid_body",
        400,
        "the body is not the JSON this operation takes (the message names the field)",
    ),
    code(
        "invalid_query",
        400,
        "the query string does not parse, or a parameter is malformed",
    ),
    code(
        "body_too_large",
        413,
        "the JSON body is over the size the API reads",
    ),
    code(
        "unsupported_media_type",
        415,
        "the body is not sent as `Content-Type: application/json`",
    ),
    code(
        "unauthorized",
        401,
        "no API key, or not a valid one: send `Authorization: Bearer <key>`",
    ),
    code(
        "precondition_failed",
        412,
        "`If-Match` names another version (or is not an ETag this API returned); read the document again",
    ),
    code(
        "conflict",
        409,
        "another change to the document kept winning the race; read it again and retry",
    ),
    // Documents and their fields.
    code("document_not_found", 404, "no document has this id"),
    code(
        "invalid_file_name",
        400,
        "`file_name` is empty, too long, or holds a path or control characters",
    ),
    code(
        "invalid_file_size",
        400,
        "`file_size` is 0 or cannot be cut into parts",
    ),
    code(
        "file_too_large",
        413,
        "`file_size` is over the server's largest document",
    ),
    code(
        "invalid_content_type",
        400,
        "`content_type` is not a media type",
    ),
    code(
        "invalid_checksum",
        400,
        "`checksum_sha256` is not 64 hex digits",
    ),
    code(
        "invalid_document_type",
        400,
        "`document_type` is empty, too long or not `[A-Za-z0-9._-]`",
    ),
    code(
        "invalid_metadata",
        400,
        "`metadata` is not a JSON object of allowed keys",
    ),
    code(
        "metadata_too_large",
        413,
        "`metadata` (after the merge, for PATCH) is over 16 KiB",
    ),
    code(
        "invalid_upload_mode",
        400,
        "`upload_mode` is not `single` or `multipart`, or a single PUT is too large",
    ),
    code(
        "invalid_part_size",
        400,
        "`part_size` is outside S3's rules (5 MiB to 5 GiB, at most 10,000 parts)",
    ),
    code(
        "invalid_storage_class",
        400,
        "`storage_class` is not an archive class",
    ),
    code("invalid_restore_days", 400, "`days` is outside 1..=365"),
    // The lifecycle.
    code(
        "upload_pending",
        409,
        "the content has not arrived yet; upload it first",
    ),
    code(
        "document_archived",
        409,
        "the content is archived; restore it first",
    ),
    code(
        "restore_in_progress",
        409,
        "a restore is under way; wait until it completes",
    ),
    code("already_archived", 409, "the document is already archived"),
    code(
        "not_archived",
        409,
        "only archived documents can be restored",
    ),
    code("already_restored", 409, "the restored copy is readable now"),
    code(
        "document_deleted",
        409,
        "the document is in the trash; undelete it first",
    ),
    code("not_deleted", 409, "the document is not in the trash"),
    // Listing and search (`GET /documents`).
    code(
        "unknown_parameter",
        400,
        "a query parameter this operation does not take",
    ),
    code(
        "duplicate_parameter",
        400,
        "a parameter given twice (only `meta.<key>` repeats)",
    ),
    code("invalid_q", 400, "`q` is empty or too long"),
    code("invalid_sort", 400, "`sort` is not one the listing knows"),
    code("invalid_limit", 400, "`limit` is outside 1..=1000"),
    code(
        "invalid_cursor",
        400,
        "`cursor` was not returned for this same query, or was altered",
    ),
    code("invalid_status", 400, "`status` is not a document status"),
    code(
        "invalid_created_after",
        400,
        "`created_after` is not an RFC 3339 time",
    ),
    code(
        "invalid_created_before",
        400,
        "`created_before` is not an RFC 3339 time",
    ),
    code(
        "invalid_updated_after",
        400,
        "`updated_after` is not an RFC 3339 time",
    ),
    code(
        "invalid_updated_before",
        400,
        "`updated_before` is not an RFC 3339 time",
    ),
    code("invalid_min_size", 400, "`min_size` is not a byte count"),
    code("invalid_max_size", 400, "`max_size` is not a byte count"),
    code(
        "invalid_meta",
        400,
        "a `meta.<key>` filter with an empty or too long key, or a bad value",
    ),
    // Revisions.
    code(
        "invalid_revision",
        400,
        "the revision number in the path is not a positive integer",
    ),
    code(
        "revision_not_found",
        404,
        "the document keeps no such revision (never made, or expired)",
    ),
    // Multipart uploads.
    code(
        "upload_not_found",
        404,
        "the document has no multipart upload with this id (completed, aborted, superseded or never started)",
    ),
    code(
        "invalid_part_numbers",
        400,
        "`part_numbers` is empty or asks for too many at once",
    ),
    code(
        "invalid_part_number",
        400,
        "a part number outside 1..=part_count",
    ),
    code(
        "missing_parts",
        409,
        "not every part has arrived whole (the message names them); send them and complete again",
    ),
    code(
        "missing_parts",
        400,
        "the store found a part short or missing while joining them; send it again and complete again",
    ),
    code(
        "part_size_mismatch",
        409,
        "a part arrived with another size than the plan's",
    ),
    code(
        "checksum_mismatch",
        400,
        "the joined bytes differ from the declared `checksum_sha256`; nothing was made current",
    ),
    code(
        "checksum_conflict",
        400,
        "the `checksum_sha256` declared at completion differs from the one declared when the upload started; nothing was made current",
    ),
    code(
        "already_uploaded",
        400,
        "content was already stored for this upload",
    ),
    // The service.
    code(
        "service_unavailable",
        503,
        "a storage service (or the key store) is unavailable; retry shortly (`Retry-After`)",
    ),
    code(
        "home_region_unavailable",
        503,
        "the document's home region cannot be reached; nothing was changed, retry later",
    ),
    code(
        "internal_error",
        500,
        "a bug or corrupt data on the server's side; the request changed nothing it did not report",
    ),
];

/// Codes (and statuses) that every operation behind the API key can answer.
const AUTH: &[&str] = &["unauthorized", "service_unavailable", "internal_error"];
/// Operations that change a document: its home region must be reachable.
const WRITE: &[&str] = &["home_region_unavailable"];
/// Operations on `/documents/{id}…`.
const DOCUMENT: &[&str] = &["invalid_document_id", "document_not_found"];
/// Operations with a JSON body.
const JSON_BODY: &[&str] = &["invalid_body", "body_too_large", "unsupported_media_type"];
/// Operations with an `If-Match` header, and those whose conditional writes retry.
const IF_MATCH: &[&str] = &["precondition_failed", "conflict"];
/// The content is readable only when active or restored.
const UNREADABLE: &[&str] = &[
    "upload_pending",
    "document_archived",
    "restore_in_progress",
    "document_deleted",
];
/// What a new content declares (create and replace).
const NEW_CONTENT: &[&str] = &[
    "invalid_file_name",
    "invalid_file_size",
    "file_too_large",
    "invalid_content_type",
    "invalid_checksum",
    "invalid_upload_mode",
    "invalid_part_size",
];
const REVISION: &[&str] = &["invalid_revision", "revision_not_found"];
const UPLOAD: &[&str] = &["upload_not_found"];

/// Each operation (by `operationId`) and the groups of codes it answers with.
/// Operations without an API key (`healthcheck`, `get_openapi`) answer no error body.
pub const OPERATION_ERRORS: &[(&str, &[&[&str]])] = &[
    (
        "list_documents",
        &[
            AUTH,
            &[
                "invalid_query",
                "unknown_parameter",
                "duplicate_parameter",
                "invalid_q",
                "invalid_sort",
                "invalid_limit",
                "invalid_cursor",
                "invalid_status",
                "invalid_document_type",
                "invalid_content_type",
                "invalid_file_name",
                "invalid_created_after",
                "invalid_created_before",
                "invalid_updated_after",
                "invalid_updated_before",
                "invalid_min_size",
                "invalid_max_size",
                "invalid_meta",
            ],
        ],
    ),
    (
        "create_document",
        &[
            AUTH,
            WRITE,
            JSON_BODY,
            NEW_CONTENT,
            &[
                "invalid_document_type",
                "invalid_metadata",
                "metadata_too_large",
            ],
        ],
    ),
    ("get_document", &[AUTH, DOCUMENT]),
    ("download_content", &[AUTH, DOCUMENT, UNREADABLE]),
    (
        "replace_content",
        &[
            AUTH,
            WRITE,
            DOCUMENT,
            JSON_BODY,
            IF_MATCH,
            NEW_CONTENT,
            &["restore_in_progress", "document_deleted"],
        ],
    ),
    (
        "patch_document",
        &[
            AUTH,
            WRITE,
            DOCUMENT,
            JSON_BODY,
            IF_MATCH,
            &[
                "invalid_document_type",
                "invalid_metadata",
                "metadata_too_large",
                "document_deleted",
            ],
        ],
    ),
    (
        "delete_document",
        &[AUTH, WRITE, DOCUMENT, IF_MATCH, &["invalid_query"]],
    ),
    (
        "archive_document",
        &[
            AUTH,
            WRITE,
            DOCUMENT,
            JSON_BODY,
            &[
                "conflict",
                "invalid_storage_class",
                "upload_pending",
                "already_archived",
                "document_deleted",
            ],
        ],
    ),
    (
        "restore_document",
        &[
            AUTH,
            WRITE,
            DOCUMENT,
            JSON_BODY,
            &[
                "conflict",
                "invalid_restore_days",
                "not_archived",
                "restore_in_progress",
                "already_restored",
                "document_deleted",
            ],
        ],
    ),
    (
        "undelete_document",
        &[AUTH, WRITE, DOCUMENT, IF_MATCH, &["not_deleted"]],
    ),
    (
        "list_revisions",
        &[
            AUTH,
            DOCUMENT,
            &["invalid_query", "invalid_limit", "invalid_cursor"],
        ],
    ),
    ("get_revision", &[AUTH, DOCUMENT, REVISION]),
    ("revision_content", &[AUTH, DOCUMENT, REVISION, UNREADABLE]),
    (
        "restore_revision",
        &[AUTH, WRITE, DOCUMENT, IF_MATCH, REVISION, UNREADABLE],
    ),
    (
        "sign_parts",
        &[
            AUTH,
            DOCUMENT,
            JSON_BODY,
            UPLOAD,
            &["invalid_part_numbers", "invalid_part_number"],
        ],
    ),
    ("list_parts", &[AUTH, DOCUMENT, UPLOAD]),
    (
        "complete_upload",
        &[
            AUTH,
            WRITE,
            DOCUMENT,
            JSON_BODY,
            UPLOAD,
            &[
                "conflict",
                "missing_parts",
                "part_size_mismatch",
                "invalid_checksum",
                "checksum_conflict",
                "checksum_mismatch",
                "already_uploaded",
            ],
        ],
    ),
    (
        "abort_upload",
        &[AUTH, WRITE, DOCUMENT, UPLOAD, &["conflict"]],
    ),
];

/// The codes `operation_id` answers with (every status of each), in table order;
/// `None` for an operation the table does not list.
pub fn errors_of(operation_id: &str) -> Option<Vec<&'static ErrorCode>> {
    let (_, groups) = OPERATION_ERRORS
        .iter()
        .find(|(id, _)| *id == operation_id)?;
    let named: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    Some(
        ERROR_CODES
            .iter()
            .filter(|c| named.contains(&c.code))
            .collect(),
    )
}

/// What a status means, before its codes are listed.
pub fn status_summary(status: u16) -> &'static str {
    match status {
        400 => "The request is invalid",
        401 => "Missing or wrong API key",
        404 => "Not found",
        409 => "Not possible in the document's current state",
        412 => "The document changed since the ETag sent",
        413 => "Too large",
        415 => "The body is not JSON",
        500 => "Internal error",
        503 => "Unavailable; retry",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_an_operation_names_is_in_the_table_and_every_code_is_used() {
        let known: Vec<&str> = ERROR_CODES.iter().map(|c| c.code).collect();
        let mut used = Vec::new();
        for (operation, groups) in OPERATION_ERRORS {
            for code in groups.iter().flat_map(|g| g.iter()) {
                assert!(
                    known.contains(code),
                    "{operation} names unknown code {code}"
                );
                used.push(*code);
            }
        }
        for code in known {
            assert!(used.contains(&code), "no operation answers {code}");
        }
    }

    /// The string literal after each `marker` in `source` (whitespace between
    /// ignored), up to `within` bytes after it.
    fn literals_after<'a>(source: &'a str, marker: &str, within: usize) -> Vec<&'a str> {
        let mut found = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let window = &rest[..rest.len().min(within)];
            if let Some(open) = window.find('"') {
                let literal = &rest[open + 1..];
                if let Some(close) = literal.find('"') {
                    found.push(&literal[..close]);
                }
            }
        }
        found
    }

    /// The codes made in the core and the API: each must be in [`ERROR_CODES`], so
    /// that a new code cannot be answered without being documented. (Storage-event
    /// outcomes and the link routes' codes are not answers of API operations.)
    #[test]
    fn every_code_the_sources_make_is_in_the_table() {
        let sources = [
            include_str!("../../kumocms-core/src/validate.rs"),
            include_str!("../../kumocms-core/src/lifecycle.rs"),
            include_str!("../../kumocms-core/src/query.rs"),
            include_str!("../../kumocms-core/src/service.rs"),
            include_str!("../../kumocms-core/src/history.rs"),
            include_str!("../../kumocms-core/src/uploads.rs"),
            include_str!("../../kumocms-core/src/multipart.rs"),
            include_str!("../../kumocms-local/src/multipart.rs"),
            include_str!("body.rs"),
            include_str!("error.rs"),
            include_str!("auth.rs"),
            include_str!("documents.rs"),
            include_str!("revisions.rs"),
            include_str!("uploads.rs"),
        ];
        let markers = [
            ("code: \"", 0),
            ("ValidationError::invalid(", 40),
            ("ValidationError::too_large(", 40),
            ("bad(", 40),
            ("refuse(", 60),
            ("ApiError::new(", 80),
            ("bad_request(", 40),
            ("=> \"invalid_", 0),
        ];
        // Refusals of transitions only storage events make (a restore completing or
        // expiring): the event processor logs them, no operation answers them. And the
        // router's answers to a path or method no operation has.
        const NOT_ANSWERED: &[&str] = &["no_restore", "route_not_found", "method_not_allowed"];
        let known: Vec<&str> = ERROR_CODES.iter().map(|c| c.code).collect();
        let mut missing = Vec::new();
        let mut checked = 0;
        for source in sources {
            for (marker, within) in markers {
                let literals = if within == 0 {
                    // The marker ends inside the literal: take the rest of it.
                    let start = marker.rfind('"').map_or(0, |q| q + 1);
                    let prefix = &marker[start..];
                    source
                        .match_indices(marker)
                        .filter_map(|(at, _)| {
                            let literal = &source[at + marker.len() - prefix.len()..];
                            literal.find('"').map(|end| &literal[..end])
                        })
                        .collect::<Vec<_>>()
                } else {
                    literals_after(source, marker, within)
                };
                for code in literals {
                    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    {
                        continue;
                    }
                    checked += 1;
                    if !known.contains(&code) && !NOT_ANSWERED.contains(&code) {
                        missing.push(code);
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "answered but not in ERROR_CODES: {missing:?}"
        );
        assert!(checked > 40, "the scan found only {checked} codes");
    }
}

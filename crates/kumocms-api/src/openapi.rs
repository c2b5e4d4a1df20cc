//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{documents, dto, error, error_codes, health, revisions, uploads};

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
    }
}

/// Operations that take a document id, in order: a created document links to each.
const OPERATIONS_ON_A_DOCUMENT: &[&str] = &[
    "get_document",
    "replace_content",
    "patch_document",
    "delete_document",
    "download_content",
    "archive_document",
    "restore_document",
    "undelete_document",
    "list_revisions",
];

/// Links from a created document to every operation on it, so that stateful API
/// testing (and readers) know `document_id` feeds the `{id}` of the others. Added
/// to the JSON because utoipa 5 serialises `Link::operation_id` in snake case.
fn add_created_document_links(document: &mut serde_json::Value) {
    let links: serde_json::Map<String, serde_json::Value> = OPERATIONS_ON_A_DOCUMENT
        .iter()
        .map(|operation_id| {
            (
                (*operation_id).to_owned(),
                serde_json::json!({
                    "operationId": operation_id,
                    "parameters": {"id": "$response.body#/document_id"},
                }),
            )
        })
        .collect();
    if let Some(created) = document.pointer_mut("/paths/~1documents/post/responses/201") {
        created["links"] = serde_json::Value::Object(links);
    }
}

/// Each operation's error responses, from [`error_codes::OPERATION_ERRORS`] (the one
/// list; the handlers' annotations declare only their successes): one response per
/// status, its codes as an `enum` on `error` and listed with their meaning in the
/// description, and every code of the operation in `x-error-codes`.
fn add_error_responses(document: &mut serde_json::Value) {
    let Some(paths) = document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for item in paths
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        for operation in item.values_mut() {
            let Some(errors) = operation
                .get("operationId")
                .and_then(serde_json::Value::as_str)
                .and_then(error_codes::errors_of)
            else {
                continue;
            };
            let mut by_status: std::collections::BTreeMap<u16, Vec<&error_codes::ErrorCode>> =
                std::collections::BTreeMap::new();
            for error in &errors {
                by_status.entry(error.status).or_default().push(error);
            }
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            for (status, codes) in by_status {
                let listed: Vec<String> = codes
                    .iter()
                    .map(|c| format!("- `{}`: {}", c.code, c.meaning))
                    .collect();
                let names: Vec<&str> = codes.iter().map(|c| c.code).collect();
                responses.insert(
                    status.to_string(),
                    serde_json::json!({
                        "description": format!(
                            "{}. `error` is one of:\n{}",
                            error_codes::status_summary(status),
                            listed.join("\n")
                        ),
                        "content": {"application/json": {"schema": {"allOf": [
                            {"$ref": "#/components/schemas/ErrorBody"},
                            {"type": "object", "properties": {"error": {"type": "string", "enum": names}}},
                        ]}}},
                    }),
                );
            }
            let mut all: Vec<&str> = Vec::new();
            for error in errors {
                if !all.contains(&error.code) {
                    all.push(error.code);
                }
            }
            operation["x-error-codes"] = serde_json::json!(all);
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "KumoCMS",
        description = "A document store: create a document, upload its content through the signed link, then read, list, archive, restore and delete it.",
        license(name = "MIT")
    ),
    servers((url = ".", description = "Where this document is served from: `kumocms serve`, or the API Gateway stage")),
    paths(
        health::healthcheck,
        serve,
        documents::list_documents,
        documents::create_document,
        documents::get_document,
        documents::replace_content,
        documents::patch_document,
        documents::delete_document,
        documents::download_content,
        documents::archive_document,
        documents::restore_document,
        revisions::undelete_document,
        revisions::list_revisions,
        revisions::get_revision,
        revisions::revision_content,
        revisions::restore_revision,
        uploads::sign_parts,
        uploads::list_parts,
        uploads::complete_upload,
        uploads::abort_upload,
    ),
    components(schemas(error::ErrorBody, dto::DocumentBody, dto::UploadBody, dto::DocumentPage, dto::SearchBody, dto::HealthBody, revisions::RevisionBody, revisions::RevisionPage, dto::UploadInfo, uploads::PartLinksBody, uploads::PartsBody)),
    modifiers(&BearerKey),
    tags((name = "documents"), (name = "revisions"), (name = "uploads"), (name = "operations"))
)]
pub struct ApiDoc;

/// The document as JSON text, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        add_created_document_links(&mut document);
        add_error_responses(&mut document);
        serde_json::to_string_pretty(&document).unwrap_or_default()
    })
}

/// This OpenAPI document
///
/// Open (no API key).
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "get_openapi",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

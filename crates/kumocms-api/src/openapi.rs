//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{documents, dto, error, health};

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "KumoCMS",
        description = "A document store: create a document, upload its content through the signed link, then read, list, archive, restore and delete it.",
        license(name = "MIT")
    ),
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
    ),
    components(schemas(error::ErrorBody, dto::DocumentBody, dto::UploadBody, dto::DocumentPage, dto::HealthBody)),
    modifiers(&BearerKey),
    tags((name = "documents"), (name = "operations"))
)]
pub struct ApiDoc;

/// The document as JSON text, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

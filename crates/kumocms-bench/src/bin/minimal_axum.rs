//! The throughput floor: one axum route returning a fixed JSON body, on the same axum,
//! hyper and tokio as `kumocms serve`. `minimal-axum <addr>` (default 127.0.0.1:8099).

use axum::Router;
use axum::http::header;
use axum::routing::get;

const BODY: &str =
    r#"{"document_id":"01HZX3J6Q8M4N2P5R7S9T1V3W5","status":"active","document_type":"report"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let app = Router::new().route(
        "/documents/{id}",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "minimal-axum listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}

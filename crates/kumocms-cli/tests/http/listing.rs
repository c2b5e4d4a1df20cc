use std::collections::BTreeSet;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn listing_pages_filters_and_refuses_forged_cursors() {
    let server = TestServer::start().await;
    let mut invoices = Vec::new();
    for n in 0..5 {
        let created = server
            .create(json!({"file_name": format!("i{n}.txt"), "file_size": 1, "document_type": "invoice"}))
            .await;
        invoices.push(created["document_id"].as_str().expect("id").to_owned());
    }
    let memo = server
        .create_active(
            "memo.txt",
            "text/plain",
            b"m",
            json!({"document_type": "memo"}),
        )
        .await;

    // All pages of invoices, two at a time, each id once, in creation order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/documents?type=invoice&limit=2&cursor={c}"),
            None => "/documents?type=invoice&limit=2".to_owned(),
        };
        let (status, _, page) = server.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<String> = page["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .map(|d| d["document_id"].as_str().expect("id").to_owned())
            .collect();
        assert!(ids.len() <= 2);
        assert_eq!(page["count"], ids.len());
        seen.extend(ids);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, invoices);

    let (_, _, page) = server
        .call(Method::GET, "/documents?status=active", None)
        .await;
    let active: BTreeSet<_> = page["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .map(|d| d["document_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(active, BTreeSet::from([memo.clone()]));
    let (_, _, page) = server.call(Method::GET, "/documents", None).await;
    assert_eq!(page["count"], 6);
    assert!(page.get("next_cursor").is_none());

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "status=lost",
        "type=a%20b",
        "cursor=garbage",
        "unknown=1",
    ] {
        let (status, _, body) = server
            .call(Method::GET, &format!("/documents?{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string());
    }

    // A cursor works only for the listing that issued it, and cannot be edited.
    let (_, _, first) = server
        .call(Method::GET, "/documents?type=invoice&limit=1", None)
        .await;
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents?type=memo&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
    let (payload, tag) = cursor.split_once('.').expect("payload.tag");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged = engine.encode(
        String::from_utf8(engine.decode(payload).expect("payload"))
            .expect("utf8")
            .replace("invoice", "memo"),
    );
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents?type=memo&limit=1&cursor={forged}.{tag}"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn search_over_http_answers_hits_with_score_and_snippet_and_names_bad_parameters() {
    let server = TestServer::start().await;
    let acme = server
        .create_active(
            "Facture ÉTÉ.txt",
            "text/plain",
            b"hello",
            json!({"metadata": {"customer": "ACME", "paid": true}}),
        )
        .await;
    let other = server
        .create_active(
            "other.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n",
            json!({"metadata": {"customer": "Globex"}}),
        )
        .await;

    let (status, _, page) = server
        .call(Method::GET, "/documents?q=facture%20ete", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 1, "{page}");
    let hit = &page["documents"][0];
    assert_eq!(hit["document_id"], acme.as_str());
    assert!(
        hit["search"]["score"].as_f64().unwrap_or_default() > 0.0,
        "{hit}"
    );
    assert_eq!(
        hit["search"]["snippet"], "<mark>Facture</mark> <mark>ÉTÉ</mark>.txt",
        "{hit}"
    );

    for (query, wanted) in [
        ("meta.customer=ACME&meta.paid=true", &acme),
        ("content_type=image/*", &other),
        ("file_name=OTH&sort=-size", &other),
        ("q=-acme%20globex", &other),
    ] {
        let (status, _, page) = server
            .call(Method::GET, &format!("/documents?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["count"], 1, "{query}: {page}");
        assert_eq!(
            page["documents"][0]["document_id"],
            wanted.as_str(),
            "{query}"
        );
        assert!(page["documents"][0]["extracted"].get("text").is_none());
    }

    for (query, code, named) in [
        ("bogus=1", "unknown_parameter", "bogus"),
        (
            "metadata.customer=ACME",
            "unknown_parameter",
            "metadata.customer",
        ),
        (
            "created_after=yesterday",
            "invalid_created_after",
            "created_after",
        ),
        ("q=%22open", "invalid_q", "q"),
        ("sort=relevance", "invalid_sort", "q"),
        ("min_size=-3", "invalid_min_size", "min_size"),
        ("content_type=pdf", "invalid_content_type", "content_type"),
        ("q=a&q=b", "duplicate_parameter", "q"),
    ] {
        let (status, _, body) = server
            .call(Method::GET, &format!("/documents?{query}"), None)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
        assert!(
            body["message"].as_str().unwrap_or_default().contains(named),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn uploaded_text_html_and_json_are_searchable_and_a_bad_file_still_becomes_active() {
    let server = TestServer::start().await;
    let page = server
        .create_active(
            "page.html",
            "text/html",
            b"<html><head><script>var hidden = 1;</script></head><body><h1>Quarterly</h1><p>The zebra &amp; the lion</p></body></html>",
            json!({}),
        )
        .await;
    let notes = server
        .create_active(
            "notes.md",
            "text/markdown",
            b"# Minutes\nThe budget is approved.",
            json!({}),
        )
        .await;
    let data = server
        .create_active(
            "data.json",
            "application/json",
            br#"{"supplier": "Initech"}"#,
            json!({}),
        )
        .await;
    let broken = server
        .create_active(
            "broken.json",
            "application/json",
            b"{\"supplier\": ",
            json!({}),
        )
        .await;

    for (q, wanted) in [
        ("zebra lion", &page),
        ("budget", &notes),
        ("initech", &data),
    ] {
        let (status, _, body) = server
            .call(
                Method::GET,
                &format!("/documents?q={}", q.replace(' ', "%20")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["count"], 1, "q={q}: {body}");
        assert_eq!(
            body["documents"][0]["document_id"],
            wanted.as_str(),
            "q={q}"
        );
    }
    let (_, _, body) = server.call(Method::GET, "/documents?q=hidden", None).await;
    assert_eq!(body["count"], 0, "script contents are not text: {body}");
    let (_, _, body) = server.call(Method::GET, "/documents?q=zebra", None).await;
    let snippet = body["documents"][0]["search"]["snippet"]
        .as_str()
        .unwrap_or_default();
    assert!(snippet.contains("<mark>zebra</mark>"), "{body}");

    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{broken}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active", "{body}");
    assert!(body["extracted"]["text_error"].is_string(), "{body}");
}

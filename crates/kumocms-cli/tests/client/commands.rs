//! Every command, its `--json` output and its exit code.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{KEY, TestServer, sha256_hex};
use crate::{Client, id_of};

#[tokio::test(flavor = "multi_thread")]
async fn put_ls_show_get_round_trip_with_type_and_metadata() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let hello = client.file("hello.txt", b"hello world\n");
    client.file("tree/a.txt", b"alpha");
    client.file("tree/deeper/b.json", b"{\"b\": 1}");
    let tree = client.dir().join("tree").to_string_lossy().into_owned();

    let put = client
        .json(&[
            "put",
            &hello,
            &tree,
            "--type",
            "note",
            "--meta",
            "author=Ada",
            "--meta",
            "n:=3",
        ])
        .await;
    let docs = put.as_array().expect("put --json prints a list");
    assert_eq!(docs.len(), 3, "{put}");
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hello.txt", "a.txt", "b.json"]);
    for doc in docs {
        assert_eq!(doc["document_type"], "note");
        assert_eq!(doc["metadata"], json!({"author": "Ada", "n": 3}));
        assert_eq!(id_of(doc).len(), 26);
    }
    assert_eq!(docs[2]["content_type"], "application/json");
    let id = id_of(&docs[0]);
    // The declared SHA-256 is the file's.
    let (_, _, record) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let sha = sha256_hex(b"hello world\n");
    assert!(
        record["checksum_sha256"] == sha || record["pending_upload"]["checksum_sha256"] == sha,
        "{record}"
    );

    // Text output: one line per file, id first.
    let text = client.ok(&["put", &hello]).await;
    assert!(
        text.starts_with(|c: char| c.is_ascii_alphanumeric()) && text.contains("hello.txt"),
        "{text}"
    );

    server.wait_for_status(&id, "active").await;
    let shown = client.json(&["show", &id]).await;
    assert_eq!(shown["document_id"], id.as_str());
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["checksum_sha256"], sha);

    let listed = client
        .json(&["ls", "--type", "note", "--all", "--limit", "2"])
        .await;
    assert_eq!(listed["count"], 3, "{listed}");
    let page = client.json(&["ls", "--type", "note", "--limit", "2"]).await;
    assert_eq!(page["count"], 2);
    assert!(
        page["next_cursor"].is_string(),
        "one page keeps the API's cursor: {page}"
    );
    let text = client.ok(&["ls", "--type", "note", "--all"]).await;
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&id));

    let out = client.dir().join("copy.txt");
    let got = client
        .json(&["get", &id, "-o", out.to_str().unwrap()])
        .await;
    assert_eq!(got["document_id"], id.as_str());
    assert_eq!(std::fs::read(&out).unwrap(), b"hello world\n");
    // Default name: the document's file name, in the current directory.
    std::fs::remove_file(client.dir().join("hello.txt")).unwrap();
    client.ok(&["get", &id]).await;
    assert_eq!(
        std::fs::read(client.dir().join("hello.txt")).unwrap(),
        b"hello world\n"
    );
    // To stdout.
    assert_eq!(client.ok(&["get", &id, "-o", "-"]).await, "hello world\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_one_line_errors() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let file = client.file("x.txt", b"x");

    // 1: usage (a wrong command line; a server 400).
    client.fails(&["put"], 1).await;
    client.fails(&["ls", "--no-such-flag"], 1).await;
    client.fails(&["put", "/no/such/file"], 1).await;
    client.fails(&["ls", "--limit", "0"], 1).await;
    let stderr = client.bare_command(&["ls"]).output().await.unwrap();
    assert_eq!(stderr.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stderr.stderr).contains("--url"));

    // 2: not found.
    let missing = ulid::Ulid::new().to_string();
    let stderr = client.fails(&["show", &missing], 2).await;
    assert!(stderr.contains("document_not_found"), "{stderr}");
    client.fails(&["get", &missing], 2).await;

    // 4: auth, one line saying what to check.
    let output = client
        .bare_command(&["ls"])
        .env("KUMOCMS_URL", &server.base)
        .env("KUMOCMS_API_KEY", "wrong-key")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("API key was refused") && stderr.contains("KUMOCMS_API_KEY"),
        "{stderr}"
    );
    let output = client
        .bare_command(&["put", &file])
        .env("KUMOCMS_URL", &server.base)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no API key given"));

    // 5: a URL where nothing listens (after the retries), one line naming the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stderr = client.fails(&["ls", "--url", &dead], 5).await;
    assert!(
        stderr.contains("cannot reach") && stderr.contains("--url"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // A URL that answers but is not the API (a wrong path).
    let stderr = client
        .fails(&["ls", "--url", &format!("{}/not-the-api", server.base)], 2)
        .await;
    assert!(stderr.contains("check that --url"), "{stderr}");

    // 3: conflict (a document in a state that forbids the action).
    let put = client.json(&["put", &file]).await;
    let id = crate::id_of(&put[0]);
    server.wait_for_status(&id, "active").await;
    let stderr = client.fails(&["undelete", &id], 3).await;
    assert!(stderr.contains("not_deleted"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_uses_if_match_and_reports_a_concurrent_change_with_exit_3() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let file = client.file("m.txt", b"meta");
    let id = crate::id_of(&client.json(&["put", &file, "--meta", "keep=1"]).await[0]);
    server.wait_for_status(&id, "active").await;

    let changed = client
        .json(&["meta", &id, "owner=ada", "size_hint:=42", "--unset", "keep"])
        .await;
    assert_eq!(
        changed["metadata"],
        json!({"owner": "ada", "size_hint": 42})
    );

    // A script read the document (its ETag), then someone else changed it.
    let read = client.json(&["show", &id]).await;
    let etag = read["etag"].as_str().unwrap().to_owned();
    let (status, _, _) = server
        .call(
            Method::PATCH,
            &format!("/documents/{id}"),
            Some(json!({"metadata": {"owner": "grace"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stderr = client
        .fails(&["meta", &id, "owner=ada", "--if-match", &etag], 3)
        .await;
    assert!(stderr.contains("changed by someone else"), "{stderr}");
    // Not overwritten.
    let after = client.json(&["show", &id]).await;
    assert_eq!(after["metadata"]["owner"], "grace");

    // --force applies over anything.
    let forced = client.json(&["meta", &id, "owner=ada", "--force"]).await;
    assert_eq!(forced["metadata"]["owner"], "ada");
    client.fails(&["meta", &id], 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revisions_restore_revision_and_replace() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let v1 = client.file("doc.txt", b"first version");
    let id = crate::id_of(&client.json(&["put", &v1]).await[0]);
    server.wait_for_status(&id, "active").await;
    let v2 = client.file("v2/doc.txt", b"second version, longer");
    let replaced = client.json(&["put", &v2, "--replace", &id]).await;
    assert_eq!(crate::id_of(&replaced[0]), id);
    client.fails(&["put", &v1, &v2, "--replace", &id], 1).await;
    let current =
        |doc: &serde_json::Value| doc["revision"] == 2 && doc.get("pending_upload").is_none();
    for _ in 0..200 {
        if current(&client.json(&["show", &id]).await) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let revisions = client.json(&["revisions", &id]).await;
    assert_eq!(revisions["count"], 2, "{revisions}");
    assert_eq!(revisions["revisions"][0]["revision"], 2);
    assert_eq!(revisions["revisions"][0]["current"], true);
    let text = client.ok(&["revisions", &id]).await;
    assert_eq!(text.lines().count(), 2, "{text}");

    assert_eq!(
        client.ok(&["get", &id, "-o", "-"]).await,
        "second version, longer"
    );
    assert_eq!(
        client.ok(&["get", &id, "--revision", "1", "-o", "-"]).await,
        "first version"
    );
    let revision = client
        .json(&["get", &id, "--revision", "1", "-o", "r1.txt"])
        .await;
    assert_eq!(revision["revision"], 1);
    client.fails(&["get", &id, "--revision", "9"], 2).await;

    let restored = client.json(&["restore-revision", &id, "1"]).await;
    assert_eq!(restored["document_id"], id.as_str());
    for _ in 0..200 {
        let doc = client.json(&["show", &id]).await;
        if doc["revision"] == 3 && doc.get("pending_upload").is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(client.ok(&["get", &id, "-o", "-"]).await, "first version");
}

#[tokio::test(flavor = "multi_thread")]
async fn rm_undelete_permanent_archive_restore_and_wait() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let file = client.file("t.txt", b"trash me");
    let id = crate::id_of(&client.json(&["put", &file]).await[0]);
    let waited = client.json(&["wait", &id]).await;
    assert_eq!(waited["status"], "active");

    let deleted = client.json(&["rm", &id]).await;
    assert_eq!(deleted["status"], "deleted");
    assert!(deleted["purge_at"].is_string());
    let trash = client.json(&["ls", "--status", "deleted", "--all"]).await;
    assert_eq!(trash["documents"][0]["document_id"], id.as_str());
    let back = client.json(&["undelete", &id]).await;
    assert_eq!(back["status"], "active");

    let archived = client.json(&["archive", &id]).await;
    assert_eq!(archived["document_id"], id.as_str());
    client.json(&["wait", &id, "--status", "archived"]).await;
    // Archived content cannot be read until restored: exit 3.
    let stderr = client.fails(&["get", &id, "-o", "-"], 3).await;
    assert!(stderr.contains("archived"), "{stderr}");
    client.json(&["restore", &id, "--days", "1"]).await;
    client.json(&["wait", &id, "--status", "restored"]).await;
    assert_eq!(client.ok(&["get", &id, "-o", "-"]).await, "trash me");
    client.fails(&["restore", &id, "--days", "0"], 1).await;
    client
        .fails(&["wait", &id, "--status", "deleted", "--timeout", "1"], 5)
        .await;

    let purged = client.json(&["rm", &id, "--permanent"]).await;
    assert_eq!(purged["purged"], true);
    client.fails(&["show", &id], 2).await;
    client.fails(&["undelete", &id], 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_saves_a_private_profile_and_refuses_a_wrong_key() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let stderr = client
        .fails(&["login", "--url", &server.base, "--api-key", "wrong"], 4)
        .await;
    assert!(stderr.contains("refused"), "{stderr}");
    let profiles = client.config_dir().join("kumocms/profiles.json");
    assert!(!profiles.exists(), "a refused key is not saved");

    let key_file = client.file("key", format!("{KEY}\n").as_bytes());
    let saved = client
        .json(&[
            "login",
            "--url",
            &server.base,
            "--api-key-file",
            &key_file,
            "--profile",
            "work",
        ])
        .await;
    assert_eq!(saved["profile"], "work");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&profiles).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profiles).unwrap()).unwrap();
    assert_eq!(stored["profiles"]["work"]["url"], server.base.as_str());

    // Used with no URL or key in the environment.
    let file = client.file("p.txt", b"via profile");
    let output = client
        .bare_command(&["put", &file, "--profile", "work", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = client
        .bare_command(&["ls"])
        .env("KUMOCMS_PROFILE", "work")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("p.txt"));
    // A key file wins over a key left in the environment.
    let output = client
        .command(&["ls", "--api-key-file", &key_file])
        .env("KUMOCMS_API_KEY", "stale-key")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A named profile that does not exist.
    let output = client
        .bare_command(&["ls", "--profile", "nope"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("kumocms login --profile nope"));
}

//! The SDK's HTTP client (`kumocms_aws::http_client`) end to end, without moto: real
//! TLS handshakes with a local rustls server whose certificate a test CA signed
//! (tests/fixtures/tls), and the error kinds the SDK's retry classifier depends on.
//! Every call goes through a DynamoDB client, as production calls do, with retries
//! off so that each test sees exactly one attempt.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as StdError;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::DispatchFailure;
use aws_smithy_types::retry::ErrorKind;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CA: &[u8] = include_bytes!("fixtures/tls/ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("fixtures/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/tls/server.key.pem");

const LIST_TABLES_RESPONSE: &str = r#"{"TableNames":["through-tls"]}"#;

fn test_ca_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA).expect("ca.pem holds a certificate"))
        .expect("the test CA is a valid trust anchor");
    roots
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT)
        .collect::<Result<Vec<_>, _>>()
        .expect("server.pem holds certificates");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("server.key.pem holds a key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the server certificate matches its key");
    // The test server speaks HTTP/1.1 only; the client must settle for it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A DynamoDB client on `http`, one attempt per call.
fn dynamo(
    http: SharedHttpClient,
    endpoint: &str,
    timeouts: TimeoutConfig,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn short_connect_timeout() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
}

/// What the TLS test server saw of its one connection.
#[derive(Debug)]
struct Seen {
    /// The ALPN protocols the client offered.
    offered_alpn: Vec<Vec<u8>>,
    request_line: String,
}

/// Serves one connection over TLS with the test CA's server certificate: answers
/// one HTTP/1.1 request with `body`, or reports how the handshake failed.
fn spawn_tls_server(body: &'static str) -> (SocketAddr, JoinHandle<Result<Seen, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = server_config();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut acceptor = rustls::server::Acceptor::default();
        let accepted = loop {
            acceptor.read_tls(&mut tcp).map_err(|e| e.to_string())?;
            if let Some(accepted) = acceptor.accept().map_err(|(e, _)| e.to_string())? {
                break accepted;
            }
        };
        let offered_alpn = accepted
            .client_hello()
            .alpn()
            .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let connection = accepted
            .into_connection(config)
            .map_err(|(e, _)| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(connection, tcp);
        let request = read_request(&mut tls).map_err(|e| e.to_string())?;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
             x-amzn-requestid: tls-test\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(response.as_bytes())
            .and_then(|()| tls.flush())
            .map_err(|e| e.to_string())?;
        tls.conn.send_close_notify();
        let _ = tls.conn.complete_io(&mut tls.sock);
        Ok(Seen {
            offered_alpn,
            request_line: request.lines().next().unwrap_or_default().to_owned(),
        })
    });
    (addr, handle)
}

/// Reads one HTTP/1.1 request (head and `content-length` body) and returns its head.
fn read_request(stream: &mut impl Read) -> io::Result<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the request head ended",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the body ended",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// Waits for a server thread without blocking the test's runtime, which must keep
/// driving the client's connection tasks (closing a connection, for one).
async fn join<T: Send + 'static>(server: JoinHandle<T>) -> T {
    tokio::task::spawn_blocking(move || server.join().expect("the server thread panicked"))
        .await
        .expect("joined the server thread")
}

/// Calls `ListTables`, which must fail in the connector (`why` says why it must), and
/// returns that failure.
async fn list_tables_failure(client: &aws_sdk_dynamodb::Client, why: &str) -> DispatchFailure {
    match client.list_tables().send().await.expect_err(why) {
        SdkError::DispatchFailure(failure) => failure,
        other => panic!("expected a dispatch (connector) failure, got {other:?}"),
    }
}

/// The error and its causes, looking inside `io::Error`s too (their `source` skips the
/// error they wrap, which is where rustls' errors travel).
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io_error) => io_error
            .get_ref()
            .map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

#[tokio::test]
async fn https_through_the_sdk_succeeds_when_the_server_chains_to_a_trusted_root() {
    let (addr, server) = spawn_tls_server(LIST_TABLES_RESPONSE);
    let client = dynamo(
        kumocms_aws::http_client_with_roots(test_ca_roots()),
        &format!("https://{addr}"),
        short_connect_timeout(),
    );

    let output = client
        .list_tables()
        .send()
        .await
        .expect("ListTables over TLS");

    assert_eq!(output.table_names(), ["through-tls"]);
    let seen = join(server)
        .await
        .expect("the server completed the exchange");
    assert_eq!(seen.request_line, "POST / HTTP/1.1");
    // HTTP/2 is offered through ALPN, HTTP/1.1 kept as the fallback this server takes.
    assert_eq!(seen.offered_alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
}

#[tokio::test]
async fn https_to_localhost_by_name_succeeds_too() {
    let (addr, server) = spawn_tls_server(LIST_TABLES_RESPONSE);
    let client = dynamo(
        kumocms_aws::http_client_with_roots(test_ca_roots()),
        &format!("https://localhost:{}", addr.port()),
        short_connect_timeout(),
    );

    let output = client
        .list_tables()
        .send()
        .await
        .expect("ListTables over TLS");

    assert_eq!(output.table_names(), ["through-tls"]);
    join(server)
        .await
        .expect("the server completed the exchange");
}

#[tokio::test]
async fn the_production_client_refuses_a_server_outside_the_mozilla_roots() {
    let (addr, server) = spawn_tls_server(LIST_TABLES_RESPONSE);
    // The public path: `sdk_config_for` builds its config on `http_client()`.
    let sdk =
        kumocms_aws::sdk_config_for(&format!("https://{addr}"), "eu-west-1", "AKID", "secret")
            .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(RetryConfig::disabled())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);

    let failure = list_tables_failure(
        &client,
        "a certificate from the test CA must not be trusted",
    )
    .await;
    let connector_error = failure
        .as_connector_error()
        .expect("a connector error, not a panic or a response");
    let certificate_error = causes(connector_error)
        .find_map(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("a rustls error among the causes of {connector_error:?}"));
    assert_eq!(
        certificate_error,
        &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
    );
    // A refused handshake is a connect failure: I/O kind, as aws-smithy-http-client
    // classifies it.
    assert!(failure.is_io(), "{failure:?}");
    let server_saw = join(server).await.expect_err("the handshake failed");
    assert!(server_saw.contains("UnknownCA"), "{server_saw}");
}

#[tokio::test]
async fn a_closed_port_is_an_io_error_the_sdk_retries() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = dynamo(
        kumocms_aws::http_client(),
        &format!("https://127.0.0.1:{port}"),
        short_connect_timeout(),
    );

    let failure = list_tables_failure(&client, "nothing listens").await;
    assert!(failure.is_io(), "{failure:?}");
}

#[tokio::test]
async fn a_connect_that_hangs_is_a_timeout_after_the_connect_timeout() {
    // A listener with a backlog of 0 that never accepts: once its accept queue holds
    // a connection, the kernel drops further SYNs and connects hang.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let hangs =
        (0..16).any(
            |_| match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => {
                    fillers.push(stream);
                    false
                }
                Err(_) => true,
            },
        );
    assert!(
        hangs,
        "the accept queue never filled; cannot provoke a connect timeout"
    );
    let client = dynamo(
        kumocms_aws::http_client(),
        &format!("https://{addr}"),
        short_connect_timeout(),
    );

    let started = Instant::now();
    let failure = list_tables_failure(&client, "the connect hangs").await;
    assert!(failure.is_timeout(), "{failure:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(fillers);
}

#[tokio::test]
async fn a_response_slower_than_the_read_timeout_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        read_request(&mut tcp).unwrap();
        // No answer. The client gives up first and must close the connection rather
        // than leave it open waiting for a response no one will read.
        let waiting = Instant::now();
        let mut rest = Vec::new();
        tcp.read_to_end(&mut rest)
            .expect("the client closed the connection (no read timeout)");
        waiting.elapsed()
    });
    let client = dynamo(
        kumocms_aws::http_client(),
        &format!("http://{addr}"),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(Duration::from_millis(300))
            .build(),
    );

    let started = Instant::now();
    let failure = list_tables_failure(&client, "no response comes").await;
    assert!(failure.is_timeout(), "{failure:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let open_after_timeout = join(server).await;
    assert!(
        open_after_timeout < Duration::from_secs(5),
        "{open_after_timeout:?}"
    );
}

#[tokio::test]
async fn a_connection_closed_before_the_response_is_a_transient_error() {
    // hyper's `IncompleteMessage`, which S3 produces now and then: the SDK must retry
    // it. This also guards the classification's reading of hyper's error kinds.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        read_request(&mut tcp).unwrap();
        drop(tcp);
    });
    let client = dynamo(
        kumocms_aws::http_client(),
        &format!("http://{addr}"),
        short_connect_timeout(),
    );

    let failure = list_tables_failure(&client, "no response comes").await;
    assert_eq!(
        failure.as_other(),
        Some(ErrorKind::TransientError),
        "{failure:?}"
    );
    join(server).await;
}

#[tokio::test]
async fn plain_http_still_works() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = read_request(&mut tcp).unwrap();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
             content-length: {}\r\n\r\n{LIST_TABLES_RESPONSE}",
            LIST_TABLES_RESPONSE.len()
        );
        tcp.write_all(response.as_bytes()).unwrap();
        head
    });
    let client = dynamo(
        kumocms_aws::http_client(),
        &format!("http://{addr}"),
        short_connect_timeout(),
    );

    let output = client
        .list_tables()
        .send()
        .await
        .expect("ListTables over plain HTTP");

    assert_eq!(output.table_names(), ["through-tls"]);
    assert!(join(server).await.starts_with("POST / HTTP/1.1"));
}

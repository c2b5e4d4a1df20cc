//! The `bootstrap` binary run as Lambda runs it: a child process talking to a local
//! Lambda Runtime API (`kumocms_lambda::runtime_api`), with the
//! environment the Terraform module sets and moto as the AWS endpoint.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Deployment, PDF, create_and_upload, document, fixture};
use kumocms_aws::testing::{REGION_A, moto_endpoint, unique_name};
use kumocms_lambda::runtime_api::{FakeRuntimeApi, Report};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// A `bootstrap` process attached to a local Runtime API.
struct Function {
    runtime: FakeRuntimeApi,
    /// Answers and init errors already returned by `invoke`.
    seen: usize,
    child: Child,
}

/// Answers and init errors: what a test waits for (not the function's polls).
fn outcomes(reports: &[Report]) -> Vec<Report> {
    reports
        .iter()
        .filter(|r| !matches!(r, Report::Next { .. }))
        .cloned()
        .collect()
}

impl Function {
    async fn start(handler: &str, env: &[(&str, String)]) -> Self {
        let runtime =
            FakeRuntimeApi::start("arn:aws:lambda:us-east-1:123456789012:function:kumocms-test")
                .await
                .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime.address().to_string())
            .env("_HANDLER", handler)
            .env("AWS_REGION", REGION_A)
            .env("AWS_DEFAULT_REGION", REGION_A)
            .env("AWS_ENDPOINT_URL", moto_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("kumocms-{handler}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/kumocms")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/29/[$LATEST]0123456789abcdef",
            )
            .kill_on_drop(true)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start bootstrap");
        Self {
            runtime,
            seen: 0,
            child,
        }
    }

    /// The next answer or init error the function reports.
    async fn next_report(&mut self, timeout: Duration) -> Report {
        let seen = self.seen;
        let report = self
            .runtime
            .wait_until(timeout, |reports| outcomes(reports).get(seen).cloned())
            .await
            .expect("the function reports in time");
        self.seen += 1;
        report
    }

    /// Queues an invocation and waits for its answer.
    async fn invoke(&mut self, event: Value) -> Report {
        let request_id = unique_name("request");
        self.runtime.invoke(&request_id, event);
        let report = self.next_report(Duration::from_secs(60)).await;
        match &report {
            Report::Response { request_id: id, .. } | Report::Error { request_id: id, .. } => {
                assert_eq!(id, &request_id, "the report is for the invocation sent");
            }
            Report::InitError { .. } | Report::Next { .. } => {}
        }
        report
    }

    /// Stops the process and returns what it logged to stdout.
    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let output = tokio::time::timeout(Duration::from_secs(10), self.child.wait_with_output())
            .await
            .expect("bootstrap stops")
            .expect("bootstrap output");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn deployment_env(deployment: &Deployment) -> Vec<(&'static str, String)> {
    vec![
        ("S3_BUCKET_NAME", deployment.bucket.clone()),
        ("DYNAMODB_TABLE_NAME", deployment.table.clone()),
    ]
}

fn response_body(report: Report) -> Value {
    match report {
        Report::Response { body, .. } => body,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn api_role_answers_rest_proxy_events() {
    let deployment = Deployment::new(REGION_A).await;
    let mut function = Function::start("api", &deployment_env(&deployment)).await;
    let created = response_body(
        function
            .invoke(common::rest_event(
                "POST",
                "/documents",
                Some(json!({"file_name": "a.pdf", "file_size": PDF.len(), "content_type": "application/pdf"})),
            ))
            .await,
    );
    assert_eq!(created["statusCode"], 201, "{created}");
    let body: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    let id = body["document_id"].as_str().unwrap().to_owned();
    let fetched = response_body(
        function
            .invoke(common::rest_event("GET", &format!("/documents/{id}"), None))
            .await,
    );
    assert_eq!(fetched["statusCode"], 200, "{fetched}");
    let health = response_body(
        function
            .invoke(common::rest_event("GET", "/healthcheck", None))
            .await,
    );
    assert_eq!(health["statusCode"], 200, "{health}");
    let logs = function.stop().await;
    // JSON lines, with the request id on the request's line and no signed URLs.
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let per_request = lines
        .iter()
        .filter(|l| {
            l["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("request-"))
        })
        .count();
    assert_eq!(
        per_request, 3,
        "one line per request, with its Lambda request id: {logs}"
    );
    assert!(!logs.contains("X-Amz-Signature"), "{logs}");
}

#[tokio::test]
async fn authorizer_role_allows_denies_and_follows_rotation() {
    let config = kumocms_aws::testing::moto_config(REGION_A).await;
    let secrets = kumocms_aws::SecretsClient::new(&config);
    let arn = secrets
        .create_secret()
        .name(unique_name("kumocms-api-keys"))
        .secret_string(
            json!({"api_key": "runtime-current-key", "api_key_previous": "runtime-old-key"})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let env = [
        ("SECRETS_ARN", arn.clone()),
        ("KUMOCMS_SECRETS_TTL_SECONDS", "1".to_owned()),
    ];
    let mut function = Function::start("authorizer", &env).await;
    let event = |value: &str| {
        let mut event = fixture("apigw-request-authorizer.json");
        event["headers"]["Authorization"] = json!(value);
        event["multiValueHeaders"]["Authorization"] = json!([value]);
        event
    };
    let allowed = response_body(function.invoke(event("Bearer runtime-old-key")).await);
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        allowed["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/v1/*/*"
    );
    assert_eq!(allowed["context"]["key"], "previous");
    match function.invoke(event("Bearer not-a-key")).await {
        Report::Error {
            body, error_type, ..
        } => {
            assert_eq!(body["errorMessage"], "Unauthorized", "{body}");
            // lambda_runtime sends the type in the body; the header says "unhandled".
            assert_eq!(body["errorType"], "Unauthorized");
            assert_eq!(error_type.as_deref(), Some("unhandled"));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(json!({"api_key": "runtime-new-key"}).to_string())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    match function.invoke(event("Bearer runtime-old-key")).await {
        Report::Error { body, .. } => assert_eq!(body["errorMessage"], "Unauthorized"),
        other => panic!("the rotated-out key must be refused after the TTL, got {other:?}"),
    }
    let allowed = response_body(function.invoke(event("Bearer runtime-new-key")).await);
    assert_eq!(allowed["context"]["key"], "current");
    let logs = function.stop().await;
    for key in [
        "runtime-current-key",
        "runtime-old-key",
        "runtime-new-key",
        "not-a-key",
    ] {
        assert!(!logs.contains(key), "key material in the logs: {logs}");
    }
    assert!(logs.contains("authorizer decision"), "{logs}");
}

#[tokio::test]
async fn events_role_applies_events_and_fails_on_a_missing_table() {
    let deployment = Deployment::new(REGION_A).await;
    let (id, key) = create_and_upload(&deployment, PDF).await;
    let mut function = Function::start("events", &deployment_env(&deployment)).await;
    let event = deployment.s3_event("eventbridge-s3-object-created.json", &key);
    let applied = response_body(function.invoke(event.clone()).await);
    assert_eq!(applied["outcome"], "applied", "{applied}");
    let duplicate = response_body(function.invoke(event.clone()).await);
    assert_eq!(duplicate["outcome"], "ignored", "{duplicate}");
    assert_eq!(document(&deployment, &id).await["status"], "active");
    function.stop().await;

    let mut env = deployment_env(&deployment);
    env[1].1 = "kumocms-table-that-does-not-exist".to_owned();
    let mut broken = Function::start("events", &env).await;
    match broken.invoke(event).await {
        Report::Error {
            body, error_type, ..
        } => {
            assert_eq!(body["errorType"], "KumoCMS.EventFailed");
            assert_eq!(error_type.as_deref(), Some("unhandled"));
            assert!(
                body["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("not applied"),
                "{body}"
            );
        }
        other => panic!("a missing table must fail the invocation, got {other:?}"),
    }
    broken.stop().await;
}

#[tokio::test]
async fn dlq_role_drains_and_reports_a_summary() {
    let deployment = Deployment::new(REGION_A).await;
    let (id, key) = create_and_upload(&deployment, PDF).await;
    let sqs = aws_sdk_sqs::Client::new(&deployment.config);
    let url = sqs
        .create_queue()
        .queue_name(unique_name("kumocms-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let event = deployment.s3_event("eventbridge-s3-object-created.json", &key);
    sqs.send_message()
        .queue_url(&url)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let mut env = deployment_env(&deployment);
    env.push(("KUMOCMS_DLQ_URL", url.clone()));
    let mut function = Function::start("dlq", &env).await;
    let summary = response_body(function.invoke(fixture("eventbridge-scheduled.json")).await);
    assert_eq!(summary["received"], 1, "{summary}");
    assert_eq!(summary["succeeded"], 1, "{summary}");
    assert_eq!(summary["expired_pending"], 0, "{summary}");
    assert_eq!(document(&deployment, &id).await["status"], "active");
    function.stop().await;
}

#[tokio::test]
async fn an_unknown_handler_fails_init() {
    for handler in ["src.handlers.api.main.lambda_handler", ""] {
        let mut function = Function::start(handler, &[]).await;
        let report = function.next_report(Duration::from_secs(30)).await;
        let Report::InitError {
            body, error_type, ..
        } = report
        else {
            panic!("expected an init error, got {report:?}");
        };
        assert_eq!(error_type.as_deref(), Some("Runtime.InitError"));
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains("\"api\", \"authorizer\", \"events\", \"dlq\""),
            "{message}"
        );
        let status = tokio::time::timeout(Duration::from_secs(10), function.child.wait())
            .await
            .expect("bootstrap exits")
            .unwrap();
        assert!(!status.success(), "bootstrap must exit non-zero");
    }
    // A known role with its settings missing fails init the same way, naming them.
    let mut function = Function::start("api", &[]).await;
    let report = function.next_report(Duration::from_secs(30)).await;
    let Report::InitError { body, .. } = report else {
        panic!("expected an init error, got {report:?}");
    };
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("S3_BUCKET_NAME"),
        "{body}"
    );
}

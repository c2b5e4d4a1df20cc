//! `bootstrap`: the KumoCMS Lambda runtime for `provided.al2023`. `_HANDLER` picks the
//! role (`api`, `authorizer`, `events`, `dlq`); anything else is reported to Lambda as
//! an init error and the process exits non-zero.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use kumocms_aws::SecretsKeySource;
use kumocms_core::ports::SystemClock;
use kumocms_lambda::api::{self, Core};
use kumocms_lambda::authorizer::Authorizer;
use kumocms_lambda::dlq::DlqDrainer;
use kumocms_lambda::events::EventsHandler;
use kumocms_lambda::{Role, Settings};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let role = std::env::var("_HANDLER").unwrap_or_default();
    let level = std::env::var(kumocms_lambda::settings::KUMOCMS_LOG_LEVEL)
        .ok()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    init_logging(&level);
    let role = match role.parse::<Role>() {
        Ok(role) => role,
        Err(error) => return init_failed(&error.to_string()).await,
    };
    let settings = match Settings::from_env(role) {
        Ok(settings) => settings,
        Err(error) => return init_failed(&error.to_string()).await,
    };
    match run(role, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the runtime stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

/// JSON lines for CloudWatch. Each line carries the span fields, among them the
/// runtime's `requestId`.
fn init_logging(level: &str) {
    // Dependencies stay at warn/info whatever the level: at debug and trace the SDK's
    // signer and HTTP layers would log request details (signed URLs, headers).
    let filter = EnvFilter::try_new(format!(
        "{level},aws_config=warn,aws_runtime=warn,aws_sigv4=warn,aws_smithy_runtime=warn,\
         aws_sdk_s3=warn,aws_sdk_dynamodb=warn,\
         aws_sdk_secretsmanager=warn,aws_sdk_sqs=warn,hyper=warn,hyper_util=warn,h2=warn,\
         rustls=warn,lambda_runtime=info,lambda_runtime_api_client=info,lambda_http=info"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .init();
}

/// Reports an init failure to the Runtime API (when there is one) and exits.
async fn init_failed(message: &str) -> std::process::ExitCode {
    tracing::error!(error = %message, "init failed");
    eprintln!("kumocms bootstrap: {message}");
    if let Err(error) = report_init_error(message).await {
        tracing::warn!(error = %format!("{error:#}"), "could not report the init error to the Runtime API");
    }
    std::process::ExitCode::FAILURE
}

async fn report_init_error(message: &str) -> anyhow::Result<()> {
    // Outside Lambda (a local run) there is no Runtime API to tell; the builder would
    // panic without its address, so check for it first.
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .context("AWS_LAMBDA_RUNTIME_API is not set (not running in Lambda)")?;
    let endpoint: http::Uri = format!("http://{address}")
        .parse()
        .context("AWS_LAMBDA_RUNTIME_API is not a host:port")?;
    let client = lambda_runtime_api_client::Client::builder()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = serde_json::to_vec(&serde_json::json!({
        "errorType": "Runtime.InitError",
        "errorMessage": message,
    }))?;
    let request = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "the Runtime API answered {}",
        response.status()
    );
    Ok(())
}

async fn run(role: Role, settings: Settings) -> anyhow::Result<()> {
    let config = kumocms_aws::sdk_config().await;
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    tracing::info!(%role, %region, "starting");
    let result = match role {
        Role::Api => {
            let core = Core::from_settings(&config, &settings);
            let service = tower::ServiceBuilder::new()
                .map_request(api::prepare)
                .service(api::router_with(core.service, &settings.web));
            lambda_http::run(service).await
        }
        Role::Authorizer => {
            let keys = SecretsKeySource::with_options(
                kumocms_aws::SecretsClient::new(&config),
                &settings.secrets_arn,
                settings.secrets_ttl,
                Arc::new(SystemClock),
            );
            let authorizer = Arc::new(Authorizer::new(Arc::new(keys)));
            run_json(role, move |event| {
                let authorizer = authorizer.clone();
                async move {
                    // API Gateway reads any failure as a denial; say no more than that.
                    authorizer
                        .handle(event.payload)
                        .await
                        .map_err(|_| diagnostic("Unauthorized", "Unauthorized"))
                }
            })
            .await
        }
        Role::Events => {
            let core = Core::from_settings(&config, &settings);
            let handler = Arc::new(EventsHandler::new(core.processor));
            run_json(role, move |event| {
                let handler = handler.clone();
                async move {
                    handler
                        .handle(event.payload)
                        .await
                        .map_err(|error| diagnostic("KumoCMS.EventFailed", &error.to_string()))
                }
            })
            .await
        }
        Role::Dlq => {
            let core = Core::from_settings(&config, &settings);
            let events = Arc::new(EventsHandler::new(core.processor));
            let drainer = Arc::new(DlqDrainer::new(
                aws_sdk_sqs::Client::new(&config),
                &settings.dlq_url,
                events,
                core.service,
            ));
            run_json(role, move |event| {
                let drainer = drainer.clone();
                async move {
                    Ok::<_, Diagnostic>(drainer.run(deadline(event.context.deadline)).await)
                }
            })
            .await
        }
    };
    result
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{role} runtime"))
}

/// Runs a JSON-in, JSON-out role on the Lambda runtime, each invocation in a span
/// that carries the role and the Lambda request id (so every log line names both).
async fn run_json<Answer, Handle, Handled>(
    role: Role,
    handle: Handle,
) -> Result<(), lambda_runtime::Error>
where
    Handle: Fn(LambdaEvent<Value>) -> Handled,
    Handled: Future<Output = Result<Answer, Diagnostic>>,
    Answer: serde::Serialize,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let span = tracing::info_span!(
            "invocation",
            role = role.as_str(),
            request_id = %event.context.request_id
        );
        handle(event).instrument(span)
    }))
    .await
}

fn diagnostic(error_type: &str, message: &str) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    }
}

/// The invocation's deadline (milliseconds since the epoch) as an `Instant`.
fn deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

//! `kumocms-bench lambda`: cold start and peak memory of `bootstrap`, run as Lambda
//! runs it: a child process talking to a local Lambda Runtime API server (this
//! process), with the environment the Terraform module sets and moto server as the
//! AWS endpoint (run it through scripts/with-moto.sh).
//!
//! ```text
//! kumocms-bench lambda --bootstrap PATH --hello PATH [--runs N] [--workload N]
//! ```
//!
//! For each run, and for each of `hello` (the floor), `api`, `authorizer` and
//! `events` in turn (interleaved, so that a busy moment on the machine hits all of
//! them alike), it starts the binary and serves it two invocations. It records:
//! exec → first `GET .../invocation/next` (init), exec → `POST .../response` of the
//! first invocation (the cold start), the second invocation's next → response (warm,
//! for comparison: the same call to moto without the start-up), and `VmHWM`.
//! Then the `api` function serves the memory workload (creates, reads, listings)
//! and its `VmHWM` is read. Prints one JSON object with every sample.
//!
//! Each of `api`, `authorizer` and `events` is measured twice per run: against moto
//! (`"aws": "moto"`) and against [`RecordedAws`] replaying moto's replies to the same
//! calls at once (`"aws": "replay"`), which takes the emulator's latency out of the
//! cold start. The replies are recorded in the untimed first round.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kumocms_aws::testing::{REGION_A, create_bucket, create_table, moto_config, moto_endpoint};
use kumocms_bench::fixtures;
use kumocms_bench::recorded_aws::{Mode, RecordedAws};
use kumocms_core::events::StorageEvent;
use kumocms_core::service::NewDocument;
use kumocms_lambda::api::Core;
use kumocms_lambda::runtime_api::{FakeRuntimeApi, Observer, Report};
use kumocms_lambda::{Role, Settings};
use serde_json::{Value, json};

const API_KEY: &str = "bench-api-key-0123456789";
const CONTENT: &[u8] = b"KumoCMS benchmark content: plain text, a few lines long.\n";

/// On-CPU time and time spent runnable but waiting for a CPU, summed over the
/// process's threads (`/proc/<pid>/task/*/schedstat`, nanoseconds).
#[derive(Debug, Clone, Copy, Default)]
struct CpuTime {
    on_cpu_ms: f64,
    waiting_ms: f64,
}

fn cpu_time(pid: u32) -> Option<CpuTime> {
    let mut total = CpuTime::default();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(0.0));
        total.on_cpu_ms += fields.next().unwrap_or(0.0) / 1e6;
        total.waiting_ms += fields.next().unwrap_or(0.0) / 1e6;
    }
    Some(total)
}

/// The function's process, and its CPU time when its first answer arrived (read by
/// the Runtime API's observer as the answer comes in, before the process goes on).
#[derive(Default)]
struct CpuProbe {
    pid: Option<u32>,
    first_answer: Option<CpuTime>,
}

type SharedProbe = Arc<Mutex<CpuProbe>>;

async fn serve_runtime_api() -> anyhow::Result<(FakeRuntimeApi, SharedProbe)> {
    let probe = SharedProbe::default();
    let observed = probe.clone();
    let observer: Observer = Box::new(move |report| {
        let mut probe = observed.lock().unwrap();
        if report.is_answer() && probe.first_answer.is_none() {
            probe.first_answer = probe.pid.and_then(cpu_time);
        }
    });
    let runtime = FakeRuntimeApi::start_observed(
        "arn:aws:lambda:us-east-1:123456789012:function:kumocms-bench",
        Some(observer),
    )
    .await?;
    Ok((runtime, probe))
}

/// Waits until `count` invocations were answered (or an init error came).
async fn wait_answers(
    runtime: &FakeRuntimeApi,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Report>> {
    let outcome = runtime
        .wait_until(timeout, |reports| {
            if let Some(Report::InitError { body, .. }) = reports
                .iter()
                .find(|r| matches!(r, Report::InitError { .. }))
            {
                return Some(Err(anyhow::anyhow!("init error: {body}")));
            }
            let answered = reports.iter().filter(|r| r.is_answer()).count();
            (answered >= count).then(|| Ok(reports.to_vec()))
        })
        .await;
    match outcome {
        Ok(result) => result,
        Err(timed_out) => {
            let answered = runtime.reports().iter().filter(|r| r.is_answer()).count();
            bail!("{timed_out}: {answered} of {count} answers")
        }
    }
}

/// What the Terraform module gives the functions, pointed at moto.
struct Deployment {
    bucket: String,
    table: String,
    secret_arn: String,
    /// Active documents, for reads.
    active: Vec<String>,
    /// Documents whose content is in the bucket and whose event has not been
    /// applied yet: one per events invocation.
    pending_keys: VecDeque<String>,
}

impl Deployment {
    fn env(
        &self,
        runtime_api: SocketAddr,
        handler: &str,
        aws_endpoint: &str,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            ("_HANDLER", handler.to_owned()),
            ("AWS_REGION", REGION_A.to_owned()),
            ("AWS_DEFAULT_REGION", REGION_A.to_owned()),
            ("AWS_ENDPOINT_URL", aws_endpoint.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_SESSION_TOKEN", "testing".to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", format!("kumocms-{handler}")),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/kumocms-{handler}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/29/[$LATEST]0123456789abcdef".to_owned(),
            ),
            ("S3_BUCKET_NAME", self.bucket.clone()),
            ("DYNAMODB_TABLE_NAME", self.table.clone()),
            ("SECRETS_ARN", self.secret_arn.clone()),
        ]
    }
}

async fn deploy(active: usize, pending: usize) -> anyhow::Result<Deployment> {
    let config = moto_config(REGION_A).await;
    let suffix = ulid::Ulid::new().to_string().to_ascii_lowercase();
    let bucket = format!("kumocms-bench-{suffix}");
    let table = format!("kumocms-bench-{suffix}");
    create_bucket(&config, &bucket).await;
    create_table(&config, &table).await;
    let secret_arn = aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("kumocms-bench-{suffix}"))
        .secret_string(json!({ "api_key": API_KEY }).to_string())
        .send()
        .await
        .context("create the API key secret on moto")?
        .arn
        .context("the secret has no ARN")?;
    let settings = Settings::from_lookup(Role::Api, |name| match name {
        "S3_BUCKET_NAME" => Some(bucket.clone()),
        "DYNAMODB_TABLE_NAME" => Some(table.clone()),
        _ => None,
    })?;
    let core = Core::from_settings(&config, &settings);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let mut deployment = Deployment {
        bucket,
        table,
        secret_arn,
        active: Vec::new(),
        pending_keys: VecDeque::new(),
    };
    for n in 0..active + pending {
        let upload = core
            .service
            .create(NewDocument {
                file_name: format!("notes-{n}.txt"),
                file_size: CONTENT.len() as u64,
                content_type: Some("text/plain".to_owned()),
                document_type: Some("report".to_owned()),
                metadata: Some(json!({"author": "Ada Lovelace", "sequence": n})),
                ..NewDocument::default()
            })
            .await?;
        let pending_upload = upload
            .document
            .pending_upload
            .context("no pending upload")?;
        s3.put_object()
            .bucket(&deployment.bucket)
            .key(&pending_upload.key)
            .content_type("text/plain")
            .body(CONTENT.to_vec().into())
            .send()
            .await
            .context("put content on moto")?;
        if n < active {
            core.processor
                .handle(&StorageEvent::ObjectCreated {
                    location: pending_upload.location,
                    key: pending_upload.key,
                })
                .await?;
            deployment.active.push(upload.document.id.to_string());
        } else {
            deployment.pending_keys.push_back(pending_upload.key);
        }
    }
    Ok(deployment)
}

#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    role: String,
    /// Where the function's AWS calls went: `moto`, `replay` (recorded moto replies
    /// served at once, see [`RecordedAws`]) or `none` (the floor makes none).
    aws: &'static str,
    init_ms: f64,
    cold_ms: f64,
    warm_ms: f64,
    /// CPU time of the process until its first answer, and how long its threads
    /// were runnable but waiting for a CPU (the machine's load, not ours).
    cold_cpu_ms: f64,
    cold_waiting_ms: f64,
    vmhwm_kib: u64,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn vm_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Checks an answer is the success a client expects.
fn check(role: &str, report: &Report) -> anyhow::Result<()> {
    match report {
        Report::Response {
            body,
            request_id: id,
            ..
        } => {
            let ok = match role {
                "api" => body["statusCode"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s)),
                "authorizer" => body["policyDocument"]["Statement"][0]["Effect"] == "Allow",
                _ => true,
            };
            if ok {
                Ok(())
            } else {
                bail!("{role} answered {id} with {body}")
            }
        }
        Report::Error {
            body,
            request_id: id,
            ..
        } => bail!("{role} failed {id}: {body}"),
        _ => Ok(()),
    }
}

struct Launch<'a> {
    binary: &'a str,
    role: &'a str,
    events: Vec<Value>,
    runtime: &'a FakeRuntimeApi,
    probe: &'a SharedProbe,
    deployment: &'a Deployment,
    aws_endpoint: &'a str,
    log: &'a std::path::Path,
}

/// Starts the binary, serves it `events` and returns the reports and its `VmHWM`.
async fn launch(launch: Launch<'_>) -> anyhow::Result<(Instant, Vec<Report>, u64)> {
    let count = launch.events.len();
    let events = launch
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (format!("{}-{i}-{}", launch.role, ulid::Ulid::new()), e))
        .collect();
    launch.runtime.reset(events);
    *launch.probe.lock().unwrap() = CpuProbe::default();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.log)?;
    let mut command = Command::new(launch.binary);
    command
        .env_clear()
        .envs(
            launch
                .deployment
                .env(launch.runtime.address(), launch.role, launch.aws_endpoint),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", launch.binary))?;
    launch.probe.lock().unwrap().pid = Some(child.id());
    let outcome = wait_answers(launch.runtime, count, Duration::from_secs(60)).await;
    let hwm = vm_kib(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let reports = outcome.with_context(|| format!("{} ({})", launch.role, launch.binary))?;
    Ok((started, reports, hwm?))
}

fn answers(reports: &[Report]) -> Vec<&Report> {
    reports.iter().filter(|r| r.is_answer()).collect()
}

/// One cold start with two invocations.
async fn cold(run: Launch<'_>, aws: &'static str) -> anyhow::Result<Sample> {
    let role = run.role;
    let probe = run.probe;
    let (started, reports, hwm) = launch(run).await?;
    let cpu = probe.lock().unwrap().first_answer.unwrap_or_default();
    let nexts: Vec<Instant> = reports
        .iter()
        .filter(|r| matches!(r, Report::Next { .. }))
        .map(Report::at)
        .collect();
    let answered = answers(&reports);
    for answer in &answered {
        check(role, answer)?;
    }
    Ok(Sample {
        role: role.to_owned(),
        aws,
        init_ms: millis(nexts[0] - started),
        cold_ms: millis(answered[0].at() - started),
        warm_ms: millis(answered[1].at() - nexts[1]),
        cold_cpu_ms: cpu.on_cpu_ms,
        cold_waiting_ms: cpu.waiting_ms,
        vmhwm_kib: hwm,
    })
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("lambda") {
        bail!(
            "usage: kumocms-bench lambda --bootstrap PATH --hello PATH [--runs N] [--workload N]"
        );
    }
    let bootstrap = arg(&args, "--bootstrap").context("--bootstrap PATH")?;
    let hello = arg(&args, "--hello").context("--hello PATH")?;
    let runs: usize = arg(&args, "--runs").map_or(Ok(15), |s| s.parse())?;
    let workload: usize = arg(&args, "--workload").map_or(Ok(100), |s| s.parse())?;
    let log = std::path::PathBuf::from(
        arg(&args, "--log").unwrap_or_else(|| "/tmp/kumocms-bench-bootstrap.log".to_owned()),
    );
    let _ = std::fs::remove_file(&log);

    // Pending documents: two events per start, for the moto starts and the one
    // recorded start (the replayed ones repeat the recorded events).
    eprintln!("seeding moto ({} documents)...", workload + 2 * runs + 4);
    let mut deployment = deploy(workload.max(1), 2 * runs + 4).await?;
    let (runtime, probe) = serve_runtime_api().await?;
    let moto = moto_endpoint();
    let recorded = RecordedAws::start(&moto)
        .await
        .context("start the recorded-AWS proxy")?;
    let replay_endpoint = recorded.endpoint();
    let mut recorded_events: Vec<(&str, Vec<Value>)> = Vec::new();

    let mut samples = Vec::new();
    // One untimed start of each binary first, so that every timed one finds it in
    // the page cache; it also records the replies the replayed starts get.
    for round in 0..=runs {
        let timed = round > 0;
        for (role, aws) in [
            ("hello", "none"),
            ("api", "moto"),
            ("authorizer", "moto"),
            ("events", "moto"),
            ("api", "replay"),
            ("authorizer", "replay"),
            ("events", "replay"),
        ] {
            let replayed = aws == "replay";
            let (binary, events) = match role {
                _ if replayed && timed => {
                    let recorded_for_role = recorded_events
                        .iter()
                        .find(|(r, _)| *r == role)
                        .map(|(_, events)| events.clone())
                        .context("no recorded events")?;
                    (bootstrap.as_str(), recorded_for_role)
                }
                "hello" => (hello.as_str(), vec![fixtures::hello(), fixtures::hello()]),
                "api" => {
                    let id = &deployment.active[round % deployment.active.len()];
                    let event = fixtures::apigw_rest("GET", &format!("/documents/{id}"), &[], None);
                    (bootstrap.as_str(), vec![event.clone(), event])
                }
                "authorizer" => {
                    let event = fixtures::authorizer(API_KEY, &deployment.active[0]);
                    (bootstrap.as_str(), vec![event.clone(), event])
                }
                _ => {
                    let mut event = || {
                        let key = deployment.pending_keys.pop_front().unwrap_or_default();
                        fixtures::object_created(
                            &deployment.bucket,
                            REGION_A,
                            &key,
                            CONTENT.len() as u64,
                        )
                    };
                    let events = vec![event(), event()];
                    (bootstrap.as_str(), events)
                }
            };
            if replayed {
                let name = role.to_owned();
                if timed {
                    recorded.set_mode(Mode::Replay(name));
                } else {
                    recorded.set_mode(Mode::Record(name));
                    recorded_events.push((role, events.clone()));
                }
            }
            let sample = cold(
                Launch {
                    binary,
                    role,
                    events,
                    runtime: &runtime,
                    probe: &probe,
                    deployment: &deployment,
                    aws_endpoint: if replayed { &replay_endpoint } else { &moto },
                    log: &log,
                },
                aws,
            )
            .await?;
            if replayed && recorded.misses() > 0 {
                bail!(
                    "{role} made {} call(s) in replay that its recorded start did not make",
                    recorded.misses()
                );
            }
            if timed {
                samples.push(sample);
            }
        }
    }

    // The memory workload: creates, reads of active documents, listings of 100.
    let mut events = Vec::new();
    for n in 0..workload {
        events.push(fixtures::apigw_rest(
            "POST",
            "/documents",
            &[],
            Some(&fixtures::create_body(n)),
        ));
        let id = &deployment.active[n % deployment.active.len()];
        events.push(fixtures::apigw_rest(
            "GET",
            &format!("/documents/{id}"),
            &[],
            None,
        ));
        if n % 5 == 0 {
            events.push(fixtures::apigw_rest(
                "GET",
                "/documents",
                &[("limit", "100")],
                None,
            ));
        }
    }
    let invocations = events.len();
    let (started, reports, hwm) = launch(Launch {
        binary: &bootstrap,
        role: "api",
        events,
        runtime: &runtime,
        probe: &probe,
        deployment: &deployment,
        aws_endpoint: &moto,
        log: &log,
    })
    .await?;
    let answered = answers(&reports);
    for answer in &answered {
        check("api", answer)?;
    }
    let elapsed = answered
        .last()
        .map(|r| r.at() - started)
        .unwrap_or_default();
    println!(
        "{}",
        json!({
            "runs": runs,
            "samples": samples,
            "workload": {
                "invocations": invocations,
                "seconds": elapsed.as_secs_f64(),
                "vmhwm_kib": hwm,
            },
        })
    );
    Ok(())
}

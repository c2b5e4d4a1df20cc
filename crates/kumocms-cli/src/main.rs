use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kumocms_cli::client::ClientCommand;
use kumocms_cli::listener;
use kumocms_cli::server::{self, ServeOptions};
use kumocms_core::revision::Retention;
use kumocms_local::defaults;
use tracing_subscriber::EnvFilter;

/// KumoCMS: a document store. `serve` runs it on this machine with embedded storage;
/// the other commands (`put`, `get`, `ls`, …) are a client for its API, local or on AWS.
#[derive(Parser)]
#[command(name = "kumocms", version, about, after_help = kumocms_cli::client::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on this machine, storing everything in one data directory.
    Serve(Box<ServeArgs>),
    /// List the API's routes (method, path, whether a key is required).
    Routes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI 3.1 document.
    Openapi,
    /// Rebuild the search index (filter columns and full text) of a data directory
    /// from its records, in one transaction. The server must be stopped (the data
    /// directory's lock is taken).
    Reindex {
        /// The data directory, as given to `serve`.
        #[arg(long, default_value = defaults::DATA_DIR, env = "KUMOCMS_DATA_DIR")]
        data_dir: PathBuf,
    },
    #[command(flatten)]
    Client(Box<ClientCommand>),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KUMOCMS_ADDR")]
    addr: SocketAddr,
    /// Where documents, the database and keys are kept.
    #[arg(long, default_value = defaults::DATA_DIR, env = "KUMOCMS_DATA_DIR")]
    data_dir: PathBuf,
    /// The API key. For development only: a flag's value shows in process listings
    /// (`ps`, /proc/PID/cmdline); use --api-key-file or KUMOCMS_API_KEY otherwise.
    /// Without any, a key is generated on first start and printed once (to stderr).
    #[arg(long, env = "KUMOCMS_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// A file holding the API key (one line). Keeps the key out of process listings.
    #[arg(long, env = "KUMOCMS_API_KEY_FILE", conflicts_with = "api_key")]
    api_key_file: Option<PathBuf>,
    /// The previous API key, still accepted during a rotation (development only as a
    /// flag, like --api-key).
    #[arg(long, env = "KUMOCMS_API_KEY_PREVIOUS", hide_env_values = true)]
    api_key_previous: Option<String>,
    /// A file holding the previous API key (one line), during a rotation.
    #[arg(
        long,
        env = "KUMOCMS_API_KEY_PREVIOUS_FILE",
        conflicts_with = "api_key_previous"
    )]
    api_key_previous_file: Option<PathBuf>,
    /// Largest document content, in bytes.
    #[arg(long, default_value_t = kumocms_core::validate::DEFAULT_MAX_FILE_SIZE, env = "KUMOCMS_MAX_FILE_SIZE")]
    max_file_size: u64,
    /// Uploads of at least this many bytes are multipart unless the client asks for a single PUT.
    #[arg(long, default_value_t = kumocms_core::multipart::DEFAULT_MULTIPART_THRESHOLD, env = "KUMOCMS_MULTIPART_THRESHOLD")]
    multipart_threshold: u64,
    /// Seconds an upload may stay pending before the document is discarded.
    #[arg(long, default_value_t = kumocms_core::service::DEFAULT_PENDING_UPLOAD_TTL.as_secs(), env = "KUMOCMS_PENDING_UPLOAD_TTL")]
    pending_upload_ttl: u64,
    /// Seconds a local restore takes (S3 takes minutes to hours).
    #[arg(long, default_value_t = defaults::RESTORE_DELAY.as_secs(), env = "KUMOCMS_RESTORE_DELAY")]
    restore_delay: u64,
    /// Revisions kept per document, the current one included; 0 keeps all.
    #[arg(long, default_value_t = Retention::default().revision_count, env = "KUMOCMS_REVISION_RETENTION_COUNT")]
    revision_retention_count: u32,
    /// Days a replaced revision is kept after it stopped being current; 0 keeps all.
    #[arg(long, default_value_t = Retention::default().revision_days, env = "KUMOCMS_REVISION_RETENTION_DAYS")]
    revision_retention_days: u32,
    /// Days a deleted document stays in the trash before it is purged; 0 purges on DELETE.
    #[arg(long, default_value_t = Retention::default().trash_days, env = "KUMOCMS_TRASH_RETENTION_DAYS")]
    trash_retention_days: u32,
    /// Uploads received at once, over all links; one more gets 503 with Retry-After.
    #[arg(long, default_value_t = defaults::MAX_CONCURRENT_UPLOADS,
          env = "KUMOCMS_MAX_CONCURRENT_UPLOADS")]
    max_concurrent_uploads: usize,
    /// Seconds to wait for the next bytes of an upload's body before answering 408.
    #[arg(long, default_value_t = defaults::BODY_TIMEOUT.as_secs(), env = "KUMOCMS_BODY_TIMEOUT")]
    body_timeout: u64,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = listener::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), env = "KUMOCMS_HEADER_READ_TIMEOUT")]
    header_read_timeout: u64,
    /// Seconds a connection may stay open with no byte moving either way.
    #[arg(long, default_value_t = listener::DEFAULT_IDLE_TIMEOUT.as_secs(), env = "KUMOCMS_IDLE_TIMEOUT")]
    idle_timeout: u64,
    /// Connections served at once. Default: derived from the open-file limit
    /// (`ulimit -n`): half of what is left after 64 descriptors kept for the server.
    #[arg(long, env = "KUMOCMS_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Origins allowed to call the API from a browser, comma-separated
    /// (e.g. http://localhost:3000), or `*`. Default: none (no CORS headers).
    #[arg(long, env = "KUMOCMS_CORS_ALLOWED_ORIGINS", value_parser = parse_origins, default_value = "")]
    cors_allowed_origins: Origins,
    /// Do not serve the web interface under /ui/.
    #[arg(long, env = "KUMOCMS_NO_WEB_UI")]
    no_web_ui: bool,
}

/// A checked list of CORS origins (one flag value, comma-separated).
#[derive(Clone, Debug)]
struct Origins(Vec<String>);

fn parse_origins(list: &str) -> Result<Origins, kumocms_api::web::InvalidOrigin> {
    kumocms_api::web::parse_origins(list).map(Origins)
}

fn main() -> std::process::ExitCode {
    // A wrong command line exits 1 (clap's own default is 2, which the client's
    // documented codes give to "not found"); --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    if let Command::Client(command) = cli.command {
        return std::process::ExitCode::from(kumocms_cli::client::run(*command));
    }
    match run_server_command(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_server_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Routes { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(kumocms_api::ROUTES)?);
            } else {
                for route in kumocms_api::ROUTES {
                    let auth = if route.auth { "api key" } else { "open" };
                    println!("{:<7} {:<28} {auth}", route.method, route.path);
                }
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", kumocms_api::openapi::json());
            Ok(())
        }
        Command::Serve(args) => serve(*args),
        Command::Reindex { data_dir } => reindex(&data_dir),
        Command::Client(_) => Ok(()),
    }
}

fn reindex(data_dir: &std::path::Path) -> anyhow::Result<()> {
    if !data_dir.join(kumocms_local::sqlite::DATABASE_FILE).exists() {
        anyhow::bail!(
            "{} holds no KumoCMS database; pass the --data-dir that `serve` uses",
            data_dir.display()
        );
    }
    let _lock = kumocms_local::lock::DataDirLock::acquire(data_dir)
        .context("the data directory is in use; stop `kumocms serve` first")?;
    let store =
        kumocms_local::SqliteMetadataStore::open(data_dir).context("cannot open the database")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = runtime.block_on(store.reindex())?;
    println!("reindexed {count} documents");
    Ok(())
}

/// A key from a file: its first line, without the line break. Anything else in the
/// key (spaces, a second line) is refused at start with the reason.
fn read_key_file(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the API key file {}", path.display()))?;
    let key = text
        .strip_suffix('\n')
        .map(|k| k.strip_suffix('\r').unwrap_or(k))
        .unwrap_or(&text);
    Ok(key.to_owned())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Log lines are written by a background thread: a write to stdout on the request's
    // own thread, under stdout's lock, cost about 30 % of the read throughput. Not
    // lossy: if the writer falls behind, requests wait instead of lines going missing.
    // The guard flushes what is queued when `serve` returns.
    let (log_writer, _flush_logs_on_exit) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("KUMOCMS_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(log_writer)
        // Colours only for a person at a terminal, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let mut options = ServeOptions::new(args.addr, args.data_dir);
    options.api_key = match &args.api_key_file {
        Some(path) => Some(read_key_file(path)?),
        None => args.api_key,
    };
    options.api_key_previous = match &args.api_key_previous_file {
        Some(path) => Some(read_key_file(path)?),
        None => args.api_key_previous,
    };
    options.service.limits.max_file_size = args.max_file_size;
    options.service.multipart_threshold = args.multipart_threshold;
    options.service.pending_upload_ttl = Duration::from_secs(args.pending_upload_ttl);
    options.restore_delay = Duration::from_secs(args.restore_delay);
    options.service.retention = Retention {
        revision_count: args.revision_retention_count,
        revision_days: args.revision_retention_days,
        trash_days: args.trash_retention_days,
    };
    options.max_concurrent_uploads = args.max_concurrent_uploads.max(1);
    options.body_timeout = Duration::from_secs(args.body_timeout.max(1));
    options.connections.header_read_timeout = Duration::from_secs(args.header_read_timeout.max(1));
    options.connections.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    if let Some(max) = args.max_connections {
        options.connections.max_connections = max.max(1);
    }
    options.web.cors_allowed_origins = args.cors_allowed_origins.0;
    if args.no_web_ui {
        options.web.ui = None;
    }
    let key_from_env = options.api_key.is_some();
    let web_ui = options.web.ui.is_some();
    let data_dir = options.data_dir.clone();

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let running = server::start(options).await?;
        let base = &running.base_url;
        println!("KumoCMS is serving {base} (data in {})", data_dir.display());
        let key_hint = match &running.generated_api_key {
            Some(key) => {
                // To the terminal only (stderr), never with the log lines on stdout,
                // which are often collected and kept.
                eprintln!("Your API key (shown only this once; only its hash is kept): {key}");
                "<the key printed above>".to_owned()
            }
            None if key_from_env => {
                println!("API key: the one given (KUMOCMS_API_KEY, --api-key or --api-key-file).");
                "<your key>".to_owned()
            }
            None => {
                println!(
                    "API key: the one printed at first start. To use another, set KUMOCMS_API_KEY."
                );
                "<your key>".to_owned()
            }
        };
        println!("Try:  curl -H \"Authorization: Bearer {key_hint}\" {base}/documents");
        if web_ui {
            println!("Web:  {base}{}", kumocms_api::web::UI_PATH);
        }
        println!("API:  {base}/openapi.json   Stop: Ctrl-C");
        running.run_until_signal().await
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// `serve --help` shows each default, and it is the one the server uses when the
    /// flag is absent (both come from `kumocms_local::defaults` and the core's
    /// `ServiceConfig::default`).
    #[test]
    fn serve_help_shows_the_defaults_the_server_uses() {
        let mut command = <super::Cli as clap::CommandFactory>::command();
        let help = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        let options = kumocms_cli::server::ServeOptions::new(
            "127.0.0.1:0".parse().expect("address"),
            kumocms_local::defaults::DATA_DIR.into(),
        );
        let service = &options.service;
        let secs = Duration::as_secs;
        let expected: [(&str, String); 12] = [
            (
                "--data-dir",
                kumocms_local::LocalConfig::default()
                    .data_dir
                    .display()
                    .to_string(),
            ),
            ("--max-file-size", service.limits.max_file_size.to_string()),
            (
                "--multipart-threshold",
                service.multipart_threshold.to_string(),
            ),
            (
                "--pending-upload-ttl",
                secs(&service.pending_upload_ttl).to_string(),
            ),
            ("--restore-delay", secs(&options.restore_delay).to_string()),
            (
                "--revision-retention-count",
                service.retention.revision_count.to_string(),
            ),
            (
                "--revision-retention-days",
                service.retention.revision_days.to_string(),
            ),
            (
                "--trash-retention-days",
                service.retention.trash_days.to_string(),
            ),
            (
                "--max-concurrent-uploads",
                options.max_concurrent_uploads.to_string(),
            ),
            ("--body-timeout", secs(&options.body_timeout).to_string()),
            (
                "--idle-timeout",
                secs(&options.connections.idle_timeout).to_string(),
            ),
            (
                "--header-read-timeout",
                secs(&options.connections.header_read_timeout).to_string(),
            ),
        ];
        for (flag, default) in expected {
            let section = help
                .split("\n\n")
                .find(|s| s.trim_start().starts_with(&format!("{flag} ")))
                .unwrap_or_else(|| panic!("{flag} is in serve --help:\n{help}"));
            assert!(
                section.contains(&format!("[default: {default}]")),
                "{flag} shows the default {default}: {section}"
            );
        }
    }

    /// clap's own checks of every command and flag (duplicate names, conflicting ids),
    /// which otherwise fire only when that subcommand is parsed in a debug build.
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}

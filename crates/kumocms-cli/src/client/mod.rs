//! The client subcommands of `kumocms` (`put`, `get`, `ls`, …): they talk to the public
//! API only, so they work the same against `kumocms serve` and a deployment on AWS.
//!
//! | module | job |
//! |---|---|
//! | `config` | `--url`/`--api-key`/profiles (`kumocms login`), config and cache paths |
//! | `api` | authenticated JSON calls, retries with backoff, API errors → client errors |
//! | `transfer` | uploads (single PUT, multipart with resume), verified ranged downloads |
//! | `output` | JSON and text output, progress bars on a terminal |
//! | `commands` | the subcommands' flags and what each does |
//! | `error` | the error kinds and their exit codes |

pub mod api;
pub mod commands;
pub mod config;
pub mod error;
pub mod output;
pub mod transfer;

pub use commands::ClientCommand;
pub use error::{ClientError, EXIT_CODES_HELP};

/// Runs a client command; returns the process exit code after printing any error as
/// one line on stderr.
pub fn run(command: ClientCommand) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 5;
        }
    };
    match runtime.block_on(commands::run(command)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

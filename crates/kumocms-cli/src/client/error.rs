//! The client's errors and the exit code each one ends the command with.

/// What kind of failure, which decides the exit code (see [`ClientError::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A wrong command line or a request the server refused as malformed (exit 1).
    Usage,
    /// The document, revision or upload does not exist (exit 2).
    NotFound,
    /// A concurrent change, a state that forbids the action, a checksum mismatch (exit 3).
    Conflict,
    /// The API key is missing or refused (exit 4).
    Auth,
    /// The server failed or could not be reached (exit 5).
    Server,
}

/// The documented exit codes, one source for `--help`, the README and the code.
pub const EXIT_CODES_HELP: &str = "\
Exit codes (client commands):
  0  ok
  1  usage: a wrong command line, or a request the server refused as invalid
  2  not found: no such document, revision or upload
  3  conflict: changed concurrently (If-Match), or not in a state that allows it
  4  auth: no API key, or the key was refused
  5  server or network: unreachable, 5xx, a download that does not match its SHA-256";

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ClientError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Server, message)
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage => 1,
            ErrorKind::NotFound => 2,
            ErrorKind::Conflict => 3,
            ErrorKind::Auth => 4,
            ErrorKind::Server => 5,
        }
    }

    /// The kind an HTTP status maps to.
    pub fn kind_of_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Auth,
            404 | 410 => ErrorKind::NotFound,
            409 | 412 | 428 => ErrorKind::Conflict,
            400..=499 => ErrorKind::Usage,
            _ => ErrorKind::Server,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        Self::usage(error.to_string())
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

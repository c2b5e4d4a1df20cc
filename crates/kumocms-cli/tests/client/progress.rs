//! Progress bars on a terminal only: a `tmux` pane shows the bar, a pipe gets none.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{KEY, TestServer};
use crate::{Client, pattern};

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux runs (scripts/test.sh installs it)")
}

/// Stops the test's own tmux server (its own socket) when dropped.
struct TmuxServer(String);

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = tmux(&self.0, &["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_shows_the_progress_bar_and_a_pipe_shows_none() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let path = client.file("bar.bin", &pattern(6 * 1024 * 1024, 1));

    // Piped: no bar on either stream.
    let output = client.run(&["put", &path]).await;
    assert!(output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !all.contains("ETA") && !all.contains("MiB"),
        "no bar when piped: {all}"
    );

    // In a terminal (a detached tmux pane): the bar with bytes, rate and ETA.
    let socket = format!("kumocms-test-{}", ulid::Ulid::new());
    let _server = TmuxServer(socket.clone());
    let script = format!(
        "env KUMOCMS_URL={url} KUMOCMS_API_KEY={KEY} XDG_CONFIG_HOME={cfg} XDG_CACHE_HOME={cache} {bin} put {path}; echo EXIT-$?; sleep 60",
        url = server.base,
        cfg = client.config_dir().display(),
        cache = client.cache_dir().display(),
        bin = env!("CARGO_BIN_EXE_kumocms"),
    );
    let started = tmux(
        &socket,
        &["new-session", "-d", "-x", "160", "-y", "20", &script],
    );
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let pane = loop {
        let captured = tmux(&socket, &["capture-pane", "-p"]);
        let pane = String::from_utf8_lossy(&captured.stdout).into_owned();
        if pane.contains("EXIT-") {
            break pane;
        }
        assert!(Instant::now() < deadline, "the put did not finish: {pane}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(pane.contains("EXIT-0"), "{pane}");
    assert!(
        pane.contains("6.00 MiB/6.00 MiB"),
        "the total bar, in bytes: {pane}"
    );
    assert!(
        pane.contains("ETA") && pane.contains("/s"),
        "rate and ETA: {pane}"
    );
    assert!(
        pane.contains("[=============================="),
        "the bar itself: {pane}"
    );
}

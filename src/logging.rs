//! What keelson writes to stderr, in one place: log events (tracing, the AWS SDK's
//! warnings among them) and the messages meant for the person at the terminal (progress,
//! diagnostics of a command, sync summaries).
//!
//! ```text
//!  tracing::warn!/info! (keelson, aws-sdk, kube) ──┐
//!  logging::log(level, cluster, msg)  (daemon) ────┼─► tracing-subscriber ─► stderr
//!  logging::say(level, cluster, msg)  (commands) ──┤      text: TIME LEVEL target: message
//!                                                  │      json: one object per line
//!                                                  └─ text mode: `say` prints the bare line
//! ```
//!
//! With `--log-format json` every line on stderr is a JSON object of the same shape
//! (`timestamp`, `level`, `fields.message`, `fields.cluster` when there is one, `target`),
//! so a log pipeline needs no second parser. Text logs carry the time and level; colour
//! only when stderr is a terminal and `NO_COLOR` is unset (no-color.org). `--quiet` keeps
//! warnings and errors only.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

/// How important a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Progress and results.
    Info,
    /// Something the user should look at.
    Warn,
    /// Something failed.
    Error,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    json: bool,
    quiet: bool,
}

static MODE: OnceLock<Mode> = OnceLock::new();

fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode {
        json: false,
        quiet: false,
    })
}

/// Whether stderr gets ANSI colour: a terminal, and `NO_COLOR` unset or empty
/// (no-color.org: "when present and not an empty string").
pub fn colour(stderr_is_tty: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_tty && no_color.is_none_or(|v| v.is_empty())
}

/// Set up stderr for this process: JSON lines or text, and `--quiet`. `KEELSON_LOG` (a
/// tracing filter, e.g. `debug` or `keelson=debug,aws_config=info`) overrides the level.
/// Calling it again changes nothing.
pub fn init(json: bool, quiet: bool) {
    if MODE.set(Mode { json, quiet }).is_err() {
        return;
    }
    let default = if quiet { "warn" } else { "warn,keelson=info" };
    let filter = EnvFilter::try_from_env("KEELSON_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A subscriber set before (a test harness) stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether lines on stderr are JSON.
pub fn is_json() -> bool {
    mode().json
}

/// Whether `--quiet` was given.
pub fn is_quiet() -> bool {
    mode().quiet
}

fn event(level: Level, cluster: Option<&str>, msg: &str) {
    match (level, cluster) {
        (Level::Info, Some(c)) => tracing::info!(cluster = c, "{msg}"),
        (Level::Info, None) => tracing::info!("{msg}"),
        (Level::Warn, Some(c)) => tracing::warn!(cluster = c, "{msg}"),
        (Level::Warn, None) => tracing::warn!("{msg}"),
        (Level::Error, Some(c)) => tracing::error!(cluster = c, "{msg}"),
        (Level::Error, None) => tracing::error!("{msg}"),
    }
}

/// A daemon's log line: a log event with time and level in either format. The cluster
/// is a field of the JSON object; text lines name it in the message already.
pub fn log(level: Level, cluster: Option<&str>, msg: &str) {
    event(level, cluster.filter(|_| is_json()), msg);
}

/// A command's message to the user: the bare line in text mode (as a person reads it
/// after the command), a log event in JSON mode. `--quiet` drops the informational ones.
pub fn say(level: Level, cluster: Option<&str>, msg: &str) {
    let m = mode();
    if m.quiet && level == Level::Info {
        return;
    }
    if m.json {
        event(level, cluster, msg);
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}

//! The `keelson` binary: parse arguments, set up logging, run, map the result to an exit
//! code.

use std::process::ExitCode;

use clap::Parser;
use keelson::cli::{run, Cli, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Usage errors exit 1, like every other error: exit codes 2 and 3 mean "changes" and
    // "blocked" (or "deprecated" and "removed") to scripts.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let filter = EnvFilter::try_from_env("KEELSON_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

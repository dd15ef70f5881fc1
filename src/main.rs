//! The `keelson` binary: parse arguments, set up logging, run, map the result to an exit
//! code.

use std::process::ExitCode;

use clap::Parser;
use keelson::cli::{run, Cli, LogFormat};
use keelson::logging::{self, Level};

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
    logging::init(cli.log_format == LogFormat::Json, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            logging::say(Level::Error, None, &format!("error: {e:#}"));
            ExitCode::from(1)
        }
    }
}

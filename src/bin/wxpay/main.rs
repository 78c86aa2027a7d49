//! `wxpay`: the WeChat Pay command line.

mod mock;

use clap::{Parser, Subcommand};

/// What a command ends with; the error's `source()` chain is printed too.
pub(crate) type CliResult = Result<(), Box<dyn std::error::Error>>;

/// WeChat Pay API v3 from the command line.
#[derive(Parser)]
#[command(name = "wxpay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The embedded WeChat Pay sandbox.
    Mock {
        #[command(subcommand)]
        command: mock::MockCommand,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mock { command } => mock::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wxpay: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            std::process::ExitCode::from(1)
        }
    }
}

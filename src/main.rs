//! The `idp` binary: parse the command line, set up logging, run.

use clap::Parser;

/// jemalloc: the request path allocates many short-lived strings on two to a few worker threads,
/// where the system allocator's arena locking and consolidation showed up as a fifth of the CPU
/// under load; jemalloc's thread caches avoid that.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    idp::install_crypto_provider();
    let cli = idp::cli::Cli::parse();
    let default_level = match cli.command {
        idp::cli::Cmd::Serve => "info",
        _ => "warn",
    };
    let filter = match std::env::var("IDP_LOG") {
        Ok(text) if !text.trim().is_empty() => match EnvFilter::try_new(&text) {
            Ok(filter) => filter,
            Err(e) => {
                eprintln!("idp: IDP_LOG is invalid: {e} (e.g. IDP_LOG=info or IDP_LOG=idp=debug)");
                return std::process::ExitCode::FAILURE;
            }
        },
        _ => EnvFilter::new(default_level),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match idp::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if let Some(idp::cli::Exit(code)) = e.downcast_ref::<idp::cli::Exit>() {
                return std::process::ExitCode::from(*code);
            }
            // A reader that went away (`idp catalog sync … | head`) is not worth a message.
            let closed_pipe = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
            if !closed_pipe {
                eprintln!("idp: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

//! Entry point: parse arguments, set up logging to stderr (masked), run the command, print
//! the JSON result on stdout when asked, exit with the error category's code.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ecs_poc::cli::{Cli, OutputFormat, SubCommand};
use ecs_poc::config::{self, ProcessEnv};
use ecs_poc::pipeline;
use ecs_poc::redact::MaskedStderr;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ECS_POC_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,aws_config=warn,aws_smithy_runtime=warn,octocrab=warn,hyper=warn",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskedStderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(SubCommand::Schema)) {
        // A reader that stops early (`ecs-poc schema | head`) is not an error of ours.
        let _ = std::io::stdout()
            .lock()
            .write_all(config::schema_json().as_bytes());
        return ExitCode::SUCCESS;
    }
    init_logging();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Only failures outside the pipeline's own categories end here.
            eprintln!("{}", ecs_poc::redact::redact(&format!("error: {e:#}")));
            ExitCode::from(1)
        }
    }
}

/// A cancelled workflow run gets SIGINT, then SIGTERM. No destructor runs when a process is
/// stopped, so the temporary docker config (an ECR login) is removed here, and the GitHub
/// deployment in progress marked cancelled, before exiting as a shell reports a signal: 128 +
/// its number.
async fn exit_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot listen for SIGINT/SIGTERM; a cancelled run may leave a temporary docker config behind"
        );
        return;
    };
    let code = tokio::select! {
        _ = interrupt.recv() => 130,
        _ = terminate.recv() => 143,
    };
    tracing::warn!("stopped by a signal: removing temporary files and exiting");
    ecs_poc::image::docker_config::remove_all();
    // A deployment left in progress would show so on GitHub until the environment's next one.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        ecs_poc::github::cancel_in_progress(),
    )
    .await;
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let env = ProcessEnv;
    runtime.block_on(async {
        tokio::spawn(exit_on_signal());
        let command = cli.command.as_ref().and_then(SubCommand::command);
        let run = match pipeline::prepare(command, &cli.options, &env) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("{}", ecs_poc::redact::redact(&format!("error: {e}")));
                if let Some(h) = e.hint() {
                    eprintln!("  what to do: {h}");
                }
                return Ok(e.exit_code() as u8);
            }
        };
        let (report, error) = run.execute().await;
        if run.settings.output == OutputFormat::Json {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", report.to_json()).context("cannot write the result to stdout")?;
        }
        Ok(match error {
            None => {
                tracing::info!("ecs-poc {}: done", run.command);
                0
            }
            Some(e) => {
                // In Actions the `::error::` annotation already carried message and hint.
                if !run.workflow.in_actions {
                    eprintln!("{}", ecs_poc::redact::redact(&format!("error: {e}")));
                    if let Some(h) = e.hint() {
                        eprintln!("  what to do: {}", ecs_poc::redact::redact(h));
                    }
                }
                e.exit_code() as u8
            }
        })
    })
}

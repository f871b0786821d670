//! `chorus ctl`: query a running box through its control socket.

use clap::{Args, Subcommand};

use chorus::net::control::{self, Request};
use chorus::status::Status;

use super::{CliError, ConfigArgs};

#[derive(Debug, Args)]
pub(super) struct CtlArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Show the box's id, name, neighbours and party.
    Status {
        /// Print the JSON contract described in the README instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn ctl(args: CtlArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    match args.command {
        CtlCommand::Status { json } => {
            let response = control::request(&config.state_dir, &Request::Status).await?;
            let status = match (response.ok, response.status) {
                (true, Some(status)) => status,
                _ => {
                    return Err(CliError::Failed(
                        response.error.unwrap_or_else(|| "empty answer".into()),
                    ))
                }
            };
            if json {
                let text = serde_json::to_string_pretty(&status)
                    .map_err(|e| CliError::Failed(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", render(&status));
            }
            Ok(())
        }
    }
}

/// The human-readable status table.
pub(super) fn render(s: &Status) -> String {
    let mut out = format!("box   {}  {}  {}\n", s.id, s.name, s.addr);
    out.push_str(match &s.party {
        None => "party none\n",
        Some(_) => "party yes\n",
    });
    out.push_str(&format!("neighbours {}\n", s.neighbours.len()));
    if !s.neighbours.is_empty() {
        out.push_str(&format!(
            "  {:<16}  {:<20}  {:<21}  {:>7}  {}\n",
            "ID", "NAME", "ADDRESS", "AGE", "VIA"
        ));
    }
    for n in &s.neighbours {
        let via = match n.via {
            chorus::core::Via::Multicast => "multicast",
            chorus::core::Via::Unicast => "unicast",
        };
        out.push_str(&format!(
            "  {:<16}  {:<20}  {:<21}  {:>5}ms  {}\n",
            n.id, n.name, n.addr, n.age_ms, via
        ));
    }
    out
}

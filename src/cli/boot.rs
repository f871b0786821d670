//! `chorus apply-boot-config`: applies chorus.txt from the boot partition, or keeps the
//! previous settings and leaves the reason for `chorus run` to show. Runs as root at
//! boot, before chorus.service (chorus-boot-config.service).

use std::path::PathBuf;

use clap::Args;

use chorus::config::boot::{self, notice, Outcome, Targets, Written};
use chorus::config::DEFAULT_CONFIG_PATH;

use super::CliError;

#[derive(Debug, Args)]
pub(super) struct ApplyBootArgs {
    /// The settings file a maker edits on the boot partition.
    #[arg(long, value_name = "FILE", default_value = boot::DEFAULT_BOOT_FILE)]
    from: PathBuf,
    /// The configuration that gets the box's name.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// The wpa_supplicant configuration that gets the Wi-Fi network.
    #[arg(long, value_name = "FILE", default_value = boot::DEFAULT_WIFI_CONF)]
    wifi_conf: PathBuf,
    /// chorus's state dir, where a notice for the screen is left when the file is bad.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/chorus")]
    state_dir: PathBuf,
}

pub(super) fn apply_boot_config(args: ApplyBootArgs) -> Result<(), CliError> {
    let targets = Targets {
        config: &args.config,
        wifi_conf: &args.wifi_conf,
    };
    let from = args.from.display();
    match boot::apply(&args.from, targets) {
        Ok(Outcome::NoFile) => {
            tracing::info!(file = %from, "no boot settings file: nothing to apply")
        }
        Ok(Outcome::Applied { config, wifi }) => tracing::info!(
            file = %from,
            name = describe(config),
            wifi = describe(wifi),
            "boot settings applied"
        ),
        Err(e) => {
            // The screen says it until a good file is applied at a later boot.
            if let Err(w) = notice::write(&args.state_dir, &e.to_string()) {
                tracing::warn!(error = %w, dir = %args.state_dir.display(), "cannot leave the notice for the screen");
            }
            return Err(CliError::BootSettings(e));
        }
    }
    if let Err(e) = notice::clear(&args.state_dir) {
        tracing::warn!(error = %e, "cannot remove the old notice");
    }
    Ok(())
}

fn describe(written: Option<Written>) -> &'static str {
    match written {
        None => "not set",
        Some(Written::Changed) => "changed",
        Some(Written::Unchanged) => "unchanged",
    }
}

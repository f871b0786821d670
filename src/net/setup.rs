//! What a box opens as it starts: its sockets, the audio output with its playback thread,
//! the scan of the music folder and the song-transfer manager.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bulk::{self, BulkConfig, BulkHandle};
use super::control::ControlError;
use super::noise::SessionError;
use super::playlists::Offers;
use super::sockets::{self, Sockets};
use super::streams::SessionCtx;
use crate::config::Config;
use crate::identity::IdentityError;
use crate::library::Library;

/// Why a box could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The state dir or key is unusable.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A socket could not be set up: another program holds the port, or the interface
    /// address is not on this machine.
    #[error("cannot set up the {what} socket: {source}")]
    Socket {
        what: &'static str,
        source: std::io::Error,
    },
    /// The control socket could not be set up.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The party key could not be derived: fix `party_key` in the config.
    #[error("cannot use the party key: {0}")]
    PartyKey(#[from] crate::party_key::PartyKeyError),
    /// The session keys could not be made (the Noise library refused): a bug.
    #[error("cannot make session keys: {0}")]
    Session(#[from] SessionError),
}

/// The network side of a box, bound but not yet serving.
#[derive(Debug)]
pub(super) struct Bound {
    pub sockets: Sockets,
    /// The unicast socket's local address.
    pub local_addr: SocketAddr,
    pub tcp_port: u16,
    /// The song-transfer listener, for the transfer manager once the box runs.
    pub bulk_listener: TcpListener,
    pub bulk_port: u16,
}

/// Binds the discovery sockets, the TCP control listener and the song-transfer listener.
/// A taken unicast or TCP port falls back to a free one, with a warning.
pub(super) async fn bind_sockets(config: &Config) -> Result<Bound, RunError> {
    let d = &config.discovery;
    let socket_err = |what| move |source| RunError::Socket { what, source };
    let multicast = sockets::multicast_receiver(d.group, d.port, &d.interfaces)
        .map_err(socket_err("multicast"))?;
    let unicast = sockets::unicast_socket(d.unicast_port).map_err(socket_err("unicast"))?;
    let local_addr = unicast.local_addr().map_err(socket_err("unicast"))?;
    warn_if_moved("unicast", d.unicast_port, local_addr.port());
    let tcp = sockets::tcp_listener(config.party.control_port)
        .await
        .map_err(socket_err("TCP control"))?;
    let tcp_port = tcp.local_addr().map_err(socket_err("TCP control"))?.port();
    warn_if_moved("TCP control", config.party.control_port, tcp_port);
    let bulk_listener = sockets::tcp_listener(config.songs.bulk_port)
        .await
        .map_err(socket_err("TCP song transfer"))?;
    let bulk_port = bulk_listener
        .local_addr()
        .map_err(socket_err("TCP song transfer"))?
        .port();
    warn_if_moved("TCP song transfer", config.songs.bulk_port, bulk_port);
    let group = SocketAddr::from((d.group, d.port));
    Ok(Bound {
        sockets: Sockets::new(multicast, unicast, tcp, group, d.interfaces.clone()),
        local_addr,
        tcp_port,
        bulk_listener,
        bulk_port,
    })
}

fn warn_if_moved(what: &str, wanted: u16, got: u16) {
    if wanted != 0 && wanted != got {
        tracing::warn!(
            wanted,
            got,
            "{what} port taken (another box on this machine?); using a free one"
        );
    }
}

/// Starts the song-transfer manager on `listener`, as `[songs]` says, its connections
/// authenticated with `session`.
pub(super) fn start_transfers(
    config: &Config,
    session: SessionCtx,
    listener: TcpListener,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> BulkHandle {
    let songs = &config.songs;
    let bulk_config = BulkConfig {
        me: session.keys.id(),
        cache_dir: config.state_dir.join("cache"),
        quota_bytes: songs.cache_quota_mb.saturating_mul(1 << 20),
        swarm: songs.swarm,
        max_in_flight: songs.max_in_flight,
        upload_bytes_per_sec: songs.upload_limit_kbps.saturating_mul(1000) / 8,
        session,
    };
    bulk::spawn(bulk_config, listener, tracker, cancel)
}

/// Opens the configured audio output and starts the playback thread on it. A box whose
/// output cannot open still takes part in parties (silently), and says why.
pub(super) fn open_player(config: &Config) -> Option<crate::audio::player::Player> {
    let spec = match config.audio.output.parse::<crate::audio::SinkSpec>() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no audio output");
            return None;
        }
    };
    let sink = match crate::audio::open(&spec) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(output = %spec, error = %e, "cannot open the audio output; playing silently");
            return None;
        }
    };
    match crate::audio::player::Player::spawn(sink) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the playback thread");
            None
        }
    }
}

/// Scans the music folder on a blocking thread (hashing takes a while on a Pi), and
/// reads its playlists into what a host can offer.
pub(super) fn scan_library(
    config: &Config,
    tracker: &TaskTracker,
) -> mpsc::Receiver<(Library, Offers)> {
    let (music, state) = (config.music_dir.clone(), config.state_dir.clone());
    let order = match config.songs.order {
        crate::config::SongOrder::Folder => crate::library::Order::Folder,
        crate::config::SongOrder::Shuffle => crate::library::Order::Shuffle {
            seed: rand::random(),
        },
    };
    let default = config.songs.playlist.clone();
    let (tx, rx) = mpsc::channel(1);
    tracker.spawn_blocking(move || {
        let mut library = match Library::open(&music, &state) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "no music library");
                return;
            }
        };
        match library.scan() {
            Ok(report) => tracing::info!(
                songs = report.songs,
                hashed = report.hashed,
                skipped = report.skipped.len(),
                music = %music.display(),
                "music library scanned"
            ),
            Err(e) => tracing::warn!(error = %e, "music folder not scanned"),
        }
        let offers = Offers::build(&library, order, default.as_deref());
        let _ = tx.blocking_send((library, offers));
    });
    rx
}

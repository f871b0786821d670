//! The demo's boxes as a fleet that can be started, killed and restarted one by one, each
//! with its state dir kept, and, when the screens are shown, a face whose frames the demo
//! paints instead of a terminal of its own.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use embedded_graphics::primitives::Rectangle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use chorus::config::Config;
use chorus::hal::face::FaceParts;
use chorus::hal::{ButtonEdge, HalError, Panel};
use chorus::net::BoxRuntime;
use chorus::status::Snapshot;
use chorus::ui::frame::Frame;

use super::CliError;

/// Faces of the demo draw at most this often: a few boxes share the machine with the audio.
const DEMO_FPS: u32 = 10;

/// What a box's face last showed, for the demo to paint.
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub frame: Option<Frame>,
    pub dim: bool,
}

/// The panel the demo gives each box: it only keeps the newest frame.
struct SharedPanel(Arc<Mutex<Shown>>);

impl Panel for SharedPanel {
    fn show(&mut self, frame: &Frame, _changed: &[Rectangle]) -> Result<(), HalError> {
        let mut shown = lock(&self.0);
        if shown.frame.as_ref() != Some(frame) {
            shown.frame = Some(frame.clone());
        }
        Ok(())
    }

    fn backlight(&mut self, on: bool) -> Result<(), HalError> {
        lock(&self.0).dim = !on;
        Ok(())
    }
}

/// Locks `shown` even if the face thread panicked while holding it: the picture is still
/// worth showing.
pub(super) fn lock(shown: &Mutex<Shown>) -> std::sync::MutexGuard<'_, Shown> {
    shown.lock().unwrap_or_else(|p| p.into_inner())
}

/// One box of the demo, running or killed.
pub(super) struct DemoBox {
    pub name: String,
    pub config: Config,
    pub recording: Option<PathBuf>,
    /// Where its face draws; kept across a kill so the last picture stays up (dimmed).
    pub shown: Arc<Mutex<Shown>>,
    running: Option<Running>,
}

// Only the screens read a running box's status and buttons, and they need the mock HAL.
#[cfg_attr(not(feature = "mock"), allow(dead_code))]
struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    edges: Option<std::sync::mpsc::Sender<ButtonEdge>>,
    face: Option<std::thread::JoinHandle<()>>,
}

impl DemoBox {
    pub fn new(name: String, config: Config, recording: Option<PathBuf>) -> DemoBox {
        DemoBox {
            name,
            config,
            recording,
            shown: Arc::default(),
            running: None,
        }
    }

    pub fn state(&self) -> &std::path::Path {
        &self.config.state_dir
    }

    #[cfg_attr(not(feature = "mock"), allow(dead_code))]
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The box's newest status, `None` while it is killed.
    #[cfg_attr(not(feature = "mock"), allow(dead_code))]
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.running.as_ref().map(|r| r.snapshots.borrow().clone())
    }

    /// Where its button edges go, `None` without a face or while killed.
    #[cfg_attr(not(feature = "mock"), allow(dead_code))]
    pub fn edges(&self) -> Option<std::sync::mpsc::Sender<ButtonEdge>> {
        self.running.as_ref().and_then(|r| r.edges.clone())
    }

    /// Binds and starts the box under `parent` (a kill cancels only this box), with a face
    /// drawing into [`DemoBox::shown`] when `face` is set. Returns the box's id.
    pub async fn start(
        &mut self,
        n: u16,
        parent: &CancellationToken,
        face: bool,
    ) -> Result<String, CliError> {
        let runtime = BoxRuntime::bind(self.config.clone()).await?;
        let id = runtime.id().to_string();
        let cancel = parent.child_token();
        let snapshots = runtime.subscribe();
        let (edges, face) = if face {
            let (edges, thread) = self.spawn_face(&runtime, &cancel);
            (Some(edges), thread)
        } else {
            (None, None)
        };
        // In one process the logs of all boxes interleave: tag each with its box.
        let span = tracing::info_span!("box", n);
        let box_cancel = cancel.clone();
        let task = tokio::spawn(
            async move {
                if let Err(e) = runtime.run(box_cancel).await {
                    tracing::error!(error = %e, "box failed");
                }
            }
            .instrument(span),
        );
        self.running = Some(Running {
            cancel,
            task,
            snapshots,
            edges,
            face,
        });
        Ok(id)
    }

    fn spawn_face(
        &self,
        runtime: &BoxRuntime,
        cancel: &CancellationToken,
    ) -> (
        std::sync::mpsc::Sender<ButtonEdge>,
        Option<std::thread::JoinHandle<()>>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let config = &self.config;
        let parts = FaceParts {
            panel: Some(Box::new(SharedPanel(self.shown.clone()))),
            edges: Some(rx),
            keymap: config.buttons.actions,
            timing: Default::default(),
            dim_after: Duration::from_secs(u64::from(config.display.dim_after_s)),
            max_fps: config.display.max_fps.min(DEMO_FPS),
            invite_window: Duration::from_millis(config.party.invite_window_ms),
        };
        let thread = chorus::hal::face::spawn(
            parts,
            runtime.subscribe(),
            runtime.requests(),
            cancel.clone(),
        )
        .map_err(|e| tracing::warn!(error = %e, "cannot start the face thread"))
        .ok();
        (tx, thread)
    }

    /// Stops the box (its runtime cancelled, its control socket removed) and waits for it.
    pub async fn kill(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.cancel.cancel();
        let _ = running.task.await;
        if let Some(face) = running.face {
            let _ = tokio::task::spawn_blocking(move || face.join()).await;
        }
        lock(&self.shown).dim = true;
    }
}

/// The songs `s` is still fetching, each as "title N%".
pub(super) fn fetching(s: &chorus::status::Status) -> Vec<String> {
    s.transfers
        .iter()
        .filter(|t| t.state != "complete" && t.size > 0)
        .map(|t| format!("{} {}%", t.title, t.bytes * 100 / t.size))
        .collect()
}

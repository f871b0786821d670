//! Runs the box's face beside it: button presses become requests on the same path as
//! `chorus ctl`, and the published status becomes frames on the panel, on a thread of
//! its own so that drawing never competes with the audio thread or the event loop.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{ButtonEdge, Panel};
use crate::clock::monotonic_now;
use crate::command::{Ask, Request, Response, VolumeTarget};
use crate::core::Instant;
use crate::status::Snapshot;
use crate::ui::buttons::{Press, PressTiming, Presses};
use crate::ui::frame::Frame;
use crate::ui::keymap::Keymap;
use crate::ui::present::{self, Extras};
use crate::ui::view::Cover;

/// How long the answer to a press stays on the screen.
const TOAST_FOR: Duration = Duration::from_secs(3);
/// A request the box never answered is forgotten after this long.
const ANSWER_WITHIN: Duration = Duration::from_secs(6);

/// The parts of a face and how to run them.
pub struct FaceParts {
    /// The display, if one opened.
    pub panel: Option<Box<dyn Panel>>,
    /// Button edges from the backend, if buttons opened.
    pub edges: Option<Receiver<ButtonEdge>>,
    pub keymap: Keymap,
    pub timing: PressTiming,
    /// The backlight dims after this long without a press or a change of screen.
    pub dim_after: Duration,
    /// At most this many frames per second.
    pub max_fps: u32,
    pub invite_window: Duration,
}

impl std::fmt::Debug for FaceParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceParts")
            .field("panel", &self.panel.is_some())
            .field("buttons", &self.edges.is_some())
            .field("max_fps", &self.max_fps)
            .finish_non_exhaustive()
    }
}

/// Starts the face's thread; it stops when `cancel` fires.
pub fn spawn(
    parts: FaceParts,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    requests: mpsc::Sender<Ask>,
    cancel: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("chorus-face".into())
        .spawn(move || Face::new(parts, snapshots, requests).run(&cancel))
}

struct Face {
    parts: FaceParts,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    requests: mpsc::Sender<Ask>,
    presses: Presses,
    /// Requests sent, waiting for the box's answer.
    waiting: Vec<(Request, oneshot::Receiver<Response>, Instant)>,
    toast: Option<(String, Instant)>,
    cover: Option<(PathBuf, Option<Arc<Cover>>)>,
    shown: Option<Frame>,
    started: Instant,
    last_activity: Instant,
    dimmed: bool,
    /// The kind of screen last drawn, to wake the backlight when it changes.
    last_screen: Option<std::mem::Discriminant<crate::ui::view::Screen>>,
}

impl Face {
    fn new(
        parts: FaceParts,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        requests: mpsc::Sender<Ask>,
    ) -> Self {
        let presses = Presses::with_holds(parts.timing, parts.keymap.holds());
        let now = monotonic_now();
        Face {
            parts,
            snapshots,
            requests,
            presses,
            waiting: Vec::new(),
            toast: None,
            cover: None,
            shown: None,
            started: now,
            last_activity: now,
            dimmed: false,
            last_screen: None,
        }
    }

    fn run(mut self, cancel: &CancellationToken) {
        let frame_every = Duration::from_secs(1) / self.parts.max_fps.clamp(1, 60);
        let mut next_frame = monotonic_now();
        while !cancel.is_cancelled() {
            let now = monotonic_now();
            let wake = self
                .presses
                .next_deadline()
                .map_or(next_frame, |d| d.min(next_frame));
            self.wait_for_edge(wake - now);
            let now = monotonic_now();
            for press in self.presses.poll(now) {
                self.pressed(press, now);
            }
            self.collect_answers(now);
            if now >= next_frame {
                self.draw(now);
                next_frame = now + frame_every;
            }
        }
    }

    /// Waits up to `timeout` for a button edge and feeds what arrives.
    fn wait_for_edge(&mut self, timeout: Duration) {
        let Some(edges) = &self.parts.edges else {
            std::thread::sleep(timeout);
            return;
        };
        match edges.recv_timeout(timeout) {
            Ok(edge) => {
                let mut presses = self.presses.edge(edge);
                while let Ok(edge) = edges.try_recv() {
                    presses.extend(self.presses.edge(edge));
                }
                let now = monotonic_now();
                for press in presses {
                    self.pressed(press, now);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                tracing::warn!("buttons stopped; the screen keeps showing the box");
                self.parts.edges = None;
            }
        }
    }

    fn pressed(&mut self, press: Press, now: Instant) {
        self.last_activity = now;
        if self.dimmed {
            // The press that wakes the screen only wakes it: the person could not see
            // what it would do.
            self.set_backlight(true);
            return;
        }
        let status = self.snapshots.borrow().status.clone();
        let ctx = present::context(&status);
        let Some(request) = self.parts.keymap.request(press, &ctx) else {
            return;
        };
        tracing::debug!(?press, ?request, "button");
        let (ask, answer) = Ask::new(request.clone());
        match self.requests.try_send(ask) {
            Ok(()) => self.waiting.push((request, answer, now)),
            Err(_) => self.toast = Some(("busy: press again".into(), now)),
        }
    }

    fn collect_answers(&mut self, now: Instant) {
        let mut toast = None;
        self.waiting
            .retain_mut(|(request, answer, since)| match answer.try_recv() {
                Ok(response) => {
                    toast = Some(match (response.ok, response.error) {
                        (false, Some(e)) => e,
                        (false, None) => "refused".into(),
                        (true, _) => confirmation(request, response.message),
                    });
                    false
                }
                Err(oneshot::error::TryRecvError::Empty) => now - *since < ANSWER_WITHIN,
                Err(oneshot::error::TryRecvError::Closed) => false,
            });
        if let Some(t) = toast {
            self.toast = Some((t, now));
        }
        if self
            .toast
            .as_ref()
            .is_some_and(|(_, since)| now - *since >= TOAST_FOR)
        {
            self.toast = None;
        }
    }

    fn draw(&mut self, now: Instant) {
        let snapshot = self.snapshots.borrow().clone();
        let cover = self.cover_for(snapshot.song_path.as_ref());
        let extras = Extras {
            toast: self.toast.as_ref().map(|(t, _)| t.clone()),
            cover,
            tick_ms: u64::try_from((now - self.started).as_millis()).unwrap_or(u64::MAX),
            invite_window: self.parts.invite_window,
        };
        let view = present::view_of(&snapshot.status, &self.parts.keymap, &extras);
        let kind = std::mem::discriminant(&view.screen);
        if self.last_screen != Some(kind) {
            // Something new to see (an invitation, the party starting): light up.
            self.last_screen = Some(kind);
            self.last_activity = now;
            if self.dimmed {
                self.set_backlight(true);
            }
        }
        let dims = !self.parts.dim_after.is_zero();
        if dims && !self.dimmed && now - self.last_activity >= self.parts.dim_after {
            self.set_backlight(false);
        }
        let Some(panel) = self.parts.panel.as_mut() else {
            return;
        };
        let mut frame = Frame::new();
        if let Err(never) = crate::ui::screens::draw(&view, &mut frame) {
            match never {}
        }
        let changed = match &self.shown {
            Some(before) => frame.changes_since(before),
            None => vec![embedded_graphics::primitives::Rectangle::new(
                embedded_graphics::prelude::Point::zero(),
                embedded_graphics::prelude::Size::new(
                    crate::ui::frame::SIZE,
                    crate::ui::frame::SIZE,
                ),
            )],
        };
        if changed.is_empty() {
            return;
        }
        match panel.show(&frame, &changed) {
            Ok(()) => self.shown = Some(frame),
            Err(e) => {
                tracing::warn!(error = %e, "the display failed; the box plays on without it");
                self.parts.panel = None;
            }
        }
    }

    fn set_backlight(&mut self, on: bool) {
        self.dimmed = !on;
        if let Some(panel) = self.parts.panel.as_mut() {
            if let Err(e) = panel.backlight(on) {
                tracing::debug!(error = %e, "backlight");
            }
        }
    }

    /// The decoded picture of the song at `path`, read once per song.
    fn cover_for(&mut self, path: Option<&PathBuf>) -> Option<Arc<Cover>> {
        let path = path?;
        if let Some((p, cover)) = &self.cover {
            if p == path {
                return cover.clone();
            }
        }
        let cover = crate::library::artwork::embedded_picture(path).and_then(|bytes| {
            crate::ui::cover::decode(&bytes)
                .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "cover art"))
                .ok()
                .map(|c| {
                    Arc::new(crate::ui::cover::resized(
                        &c,
                        crate::ui::screens::COVER_SIZE,
                    ))
                })
        });
        self.cover = Some((path.clone(), cover.clone()));
        cover
    }
}

/// What the screen says when a press did what it asked: a few words a person reads at a
/// glance, not the control socket's answer (which names ids).
fn confirmation(request: &Request, message: Option<String>) -> String {
    match request {
        Request::Host { .. } => "Hosting: inviting boxes nearby".into(),
        Request::Join { .. } => "Joining the party\u{2026}".into(),
        Request::Leave => "Left the party".into(),
        Request::End => "Party ended".into(),
        Request::Skip => "Next song".into(),
        Request::Previous => "Previous song".into(),
        Request::Pause => "Paused".into(),
        Request::Resume => "Playing".into(),
        Request::Volume {
            target: VolumeTarget::Box,
            ..
        } => message.unwrap_or_else(|| "Box volume".into()),
        Request::Volume { .. } => "Party volume changed".into(),
        _ => message.unwrap_or_else(|| "Done".into()),
    }
}

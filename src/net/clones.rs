//! Cloned cards: two boxes that hold the same key (a card copied after its first start)
//! find out over an authenticated session, and exactly one of them makes a new identity.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::net::TcpStream;
use tokio_util::task::TaskTracker;

use super::noise::{self, Keys, Session, SessionStats};
use crate::identity;

/// What the box does about clones of itself.
#[derive(Debug)]
pub(crate) struct Clones {
    state_dir: PathBuf,
    /// A new key was made: once is enough.
    replaced: AtomicBool,
    /// Control addresses already probed after a beacon with our id.
    probed: Mutex<HashSet<SocketAddr>>,
}

impl Clones {
    pub(crate) fn new(state_dir: PathBuf) -> Clones {
        Clones {
            state_dir,
            replaced: AtomicBool::new(false),
            probed: Mutex::new(HashSet::new()),
        }
    }

    /// `session`'s peer proved our own id: count it, and if this box is the one to
    /// yield, store a new key. The running box keeps its id until it restarts (its
    /// party, sockets and screens are not disturbed); from then on it is a new box.
    pub(crate) fn proven(&self, session: &Session, keys: &Keys, stats: &SessionStats) {
        stats.clone_seen();
        if !session.we_yield_to_clone(keys) {
            tracing::warn!(id = %keys.id(), "another box holds this box's key (a cloned card); it makes itself a new identity");
            return;
        }
        if self.replaced.swap(true, Ordering::SeqCst) {
            return;
        }
        match identity::replace(&self.state_dir) {
            Ok(new) => tracing::warn!(
                "this box's identity was cloned from another card; made a new one: {} (in use from the next start)",
                new.id()
            ),
            Err(e) => {
                self.replaced.store(false, Ordering::SeqCst);
                tracing::error!(error = %e, "this box's identity was cloned from another card; cannot store a new one");
            }
        }
    }

    /// A beacon announced our id from `control`: beacons are not signed, so only a
    /// session there can tell a cloned card from a forgery. Probes each address once.
    pub(crate) fn probe(
        self: &std::sync::Arc<Self>,
        control: SocketAddr,
        keys: &Keys,
        stats: &std::sync::Arc<SessionStats>,
        tracker: &TaskTracker,
    ) {
        let fresh = match self.probed.lock() {
            Ok(mut probed) => probed.insert(control),
            Err(_) => false,
        };
        if !fresh {
            return;
        }
        let (me, keys, stats) = (self.clone(), keys.clone(), stats.clone());
        tracker.spawn(async move {
            let connected = tokio::time::timeout(noise::CONNECT_TIMEOUT, TcpStream::connect(control));
            let Ok(Ok(mut socket)) = connected.await else {
                return;
            };
            match noise::initiate(&mut socket, &keys).await {
                Ok(s) if s.peer() == keys.id() => me.proven(&s, &keys, &stats),
                Ok(s) => {
                    let proven = s.peer();
                    tracing::warn!(%control, %proven, "a beacon announced this box's id from a box that proves another: forged");
                }
                Err(e) => tracing::debug!(%control, error = %e, "clone probe failed"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    /// Two sessions between boxes holding the same key, as each side sees its own.
    async fn clone_pair(identity: &Identity) -> ((Keys, Session), (Keys, Session)) {
        let (a, b) = (Keys::new(identity).unwrap(), Keys::new(identity).unwrap());
        let (mut x, mut y) = tokio::io::duplex(1 << 16);
        let (sa, sb) = tokio::join!(noise::initiate(&mut x, &a), noise::respond(&mut y, &b));
        ((a, sa.unwrap()), (b, sb.unwrap()))
    }

    #[tokio::test]
    async fn exactly_one_of_two_clones_makes_a_new_identity() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let identity = identity::load_or_create(dir_a.path()).unwrap();
        std::fs::copy(dir_a.path().join("key"), dir_b.path().join("key")).unwrap();
        let ((ka, sa), (kb, sb)) = clone_pair(&identity).await;
        assert_eq!(sa.peer(), identity.id());
        assert_eq!(sb.peer(), identity.id());
        let stats = SessionStats::default();
        Clones::new(dir_a.path().into()).proven(&sa, &ka, &stats);
        Clones::new(dir_b.path().into()).proven(&sb, &kb, &stats);
        let ids = [dir_a.path(), dir_b.path()].map(|d| identity::load_or_create(d).unwrap().id());
        let kept = ids.iter().filter(|id| **id == identity.id()).count();
        assert_eq!(kept, 1, "exactly one box keeps the id: {ids:?}");
        assert_eq!(stats.snapshot().clones_seen, 2);
    }
}

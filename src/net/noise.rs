//! Authenticated sessions: every TCP connection between boxes (control and bulk) opens
//! with a Noise `XX` handshake that proves both boxes' ids, then carries its frames
//! sealed with the keys the handshake yields ([`SessionCodec`]).
//!
//! Each box has a fresh x25519 Noise key per process; the handshake payload carries the
//! box's long-term ed25519 public key and its signature over the Noise static key, so the
//! peer learns an id (derived from the ed25519 key, see [`crate::identity`]) that only the
//! holder of that key could have proven. Both ends also derive a key from the handshake
//! hash ([`Session::clock_key`]) that authenticates their clock-sync datagrams. The
//! handshake is sans-IO ([`Initiator`], [`Responder`]); [`initiate`] and [`respond`]
//! only move its messages.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signature, Signer, VerifyingKey, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::core::NodeId;
use crate::identity::{id_of, Identity};
pub use crate::net::session_codec::SessionCodec;
use crate::net::session_codec::SessionKeys;
use crate::party_key::PartyKey;
use crate::status::SessionCounters;

/// How long a TCP connection attempt may take, before its handshake begins.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a peer may take over the whole handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// A keyed party's sessions: the same pattern with the party's pre-shared key mixed in
/// before the first message (`psk0`), so each side checks the other holds the key on the
/// first message it reads, before either sends its identity proof: a box without the key
/// learns no id and cannot make a box believe it met anyone (with `psk3` the dialer would
/// hold a "session" with whoever proved an id in the second message, key or not).
const PARAMS_PSK: &str = "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s";
/// Binds the handshake to this protocol: a Noise peer of another program fails it.
const PROLOGUE: &[u8] = b"chorus/2";
/// What the ed25519 key signs: the Noise static key, under a prefix used for nothing else.
const SIGN_PREFIX: &[u8] = b"chorus-noise-static:";
/// Separates the clock-sync key from any other use of the handshake hash.
const CLOCK_KEY_CONTEXT: &str = "chorus 2026 clock-sync MAC key from the Noise handshake hash";
/// The largest handshake message.
const MAX_MESSAGE: usize = 65535;
/// The proof in a handshake payload: ed25519 public key, then the signature.
const PROOF_LEN: usize = PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH;

/// Why a session could not be set up. Every variant ends the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The connection failed during the handshake; dial again later.
    #[error("connection failed during the handshake: {0}")]
    Io(#[from] std::io::Error),
    /// The peer did not finish the handshake in time.
    #[error("handshake not finished within {HANDSHAKE_TIMEOUT:?}")]
    TimedOut,
    /// The peer is not a chorus box of this version, or a message was tampered with.
    #[error("handshake failed: {0}")]
    Noise(#[from] snow::Error),
    /// The peer's proof of identity is malformed or its signature does not verify: the
    /// peer is not who it says.
    #[error("the peer's identity proof is invalid: {0}")]
    BadProof(&'static str),
    /// The cipher refused the keys the handshake gave: a bug, not the peer's doing.
    #[error("the session's keys could not be set up")]
    Keys,
}

/// This box's keys for sessions: its identity and this process's Noise key pair.
#[derive(Clone)]
pub struct Keys {
    id: NodeId,
    noise_private: Arc<[u8]>,
    noise_public: Arc<[u8]>,
    /// The proof every handshake sends.
    proof: [u8; PROOF_LEN],
    /// The party key's pre-shared key, for a keyed box.
    psk: Option<[u8; 32]>,
}

impl std::fmt::Debug for Keys {
    // Never the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("id", &self.id)
            .field("keyed", &self.psk.is_some())
            .finish()
    }
}

impl Keys {
    /// A fresh Noise key pair signed by `identity`.
    pub fn new(identity: &Identity) -> Result<Keys, SessionError> {
        let pair = snow::Builder::new(params()?).generate_keypair()?;
        let key = identity.signing_key();
        let signature = key.sign(&signed(&pair.public));
        let mut proof = [0u8; PROOF_LEN];
        proof[..PUBLIC_KEY_LENGTH].copy_from_slice(key.verifying_key().as_bytes());
        proof[PUBLIC_KEY_LENGTH..].copy_from_slice(&signature.to_bytes());
        Ok(Keys {
            id: identity.id(),
            noise_private: pair.private.into(),
            noise_public: pair.public.into(),
            proof,
            psk: None,
        })
    }

    /// These keys for a box of the party keyed with `key` (`None`: an open box).
    pub fn keyed(mut self, key: Option<&PartyKey>) -> Keys {
        self.psk = key.map(PartyKey::session_psk);
        self
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    fn builder(&self) -> Result<snow::Builder<'_>, SessionError> {
        let builder = match &self.psk {
            None => snow::Builder::new(params()?),
            Some(psk) => snow::Builder::new(PARAMS_PSK.parse()?).psk(0, psk),
        };
        Ok(builder
            .prologue(PROLOGUE)
            .local_private_key(&self.noise_private))
    }
}

fn params() -> Result<snow::params::NoiseParams, SessionError> {
    Ok(PARAMS.parse()?)
}

fn signed(noise_static: &[u8]) -> Vec<u8> {
    [SIGN_PREFIX, noise_static].concat()
}

/// Checks a peer's proof against the Noise static key it used; its id if valid.
pub fn verify_proof(proof: &[u8], noise_static: &[u8]) -> Result<NodeId, SessionError> {
    let proof: &[u8; PROOF_LEN] = proof
        .try_into()
        .map_err(|_| SessionError::BadProof("wrong length"))?;
    let (key, signature) = proof.split_at(PUBLIC_KEY_LENGTH);
    let key: &[u8; PUBLIC_KEY_LENGTH] = key
        .try_into()
        .map_err(|_| SessionError::BadProof("wrong length"))?;
    let key = VerifyingKey::from_bytes(key).map_err(|_| SessionError::BadProof("bad key"))?;
    let signature =
        Signature::from_slice(signature).map_err(|_| SessionError::BadProof("bad signature"))?;
    key.verify_strict(&signed(noise_static), &signature)
        .map_err(|_| SessionError::BadProof("signature does not verify"))?;
    Ok(id_of(&key))
}

/// Reads the peer's proof from the handshake payload it just sent.
fn peer_of(state: &snow::HandshakeState, payload: &[u8]) -> Result<NodeId, SessionError> {
    let noise_static = state
        .get_remote_static()
        .ok_or(SessionError::BadProof("no static key"))?;
    verify_proof(payload, noise_static)
}

/// The dialing side of a handshake: `-> e`, `<- e, ee, s, es`, `-> s, se`.
#[derive(Debug)]
pub struct Initiator {
    state: snow::HandshakeState,
    proof: [u8; PROOF_LEN],
}

impl Initiator {
    /// Starts a handshake; the first message is to be sent.
    pub fn new(keys: &Keys) -> Result<(Initiator, Vec<u8>), SessionError> {
        let mut state = keys.builder()?.build_initiator()?;
        let first = write(&mut state, &[])?;
        Ok((
            Initiator {
                state,
                proof: keys.proof,
            },
            first,
        ))
    }

    /// Reads the responder's answer: the last message to send and the session.
    pub fn finish(mut self, second: &[u8]) -> Result<(Vec<u8>, Session), SessionError> {
        let payload = read(&mut self.state, second)?;
        let peer = peer_of(&self.state, &payload)?;
        let third = write(&mut self.state, &self.proof)?;
        Ok((third, Session::new(self.state, peer)?))
    }
}

/// The accepting side of a handshake.
#[derive(Debug)]
pub struct Responder {
    state: snow::HandshakeState,
}

impl Responder {
    /// Reads the dialer's first message; the answer is to be sent.
    pub fn new(keys: &Keys, first: &[u8]) -> Result<(Responder, Vec<u8>), SessionError> {
        let mut state = keys.builder()?.build_responder()?;
        read(&mut state, first)?;
        let second = write(&mut state, &keys.proof)?;
        Ok((Responder { state }, second))
    }

    /// Reads the dialer's last message: the session.
    pub fn finish(mut self, third: &[u8]) -> Result<Session, SessionError> {
        let payload = read(&mut self.state, third)?;
        let peer = peer_of(&self.state, &payload)?;
        Session::new(self.state, peer)
    }
}

fn write(state: &mut snow::HandshakeState, payload: &[u8]) -> Result<Vec<u8>, SessionError> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let n = state.write_message(payload, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn read(state: &mut snow::HandshakeState, message: &[u8]) -> Result<Vec<u8>, SessionError> {
    let mut payload = vec![0u8; message.len()];
    let n = state.read_message(message, &mut payload)?;
    payload.truncate(n);
    Ok(payload)
}

/// A finished handshake: the peer's proven id and the keys for its frames.
#[derive(Debug)]
pub struct Session {
    peer: NodeId,
    /// The peer's per-process Noise key.
    peer_noise: Vec<u8>,
    keys: Arc<SessionKeys>,
    /// Both ends derive it from the handshake hash, which only they know.
    clock_key: [u8; 32],
}

impl Session {
    fn new(mut state: snow::HandshakeState, peer: NodeId) -> Result<Session, SessionError> {
        if !state.is_handshake_finished() {
            return Err(snow::Error::State(snow::error::StateProblem::HandshakeNotFinished).into());
        }
        let clock_key = blake3::derive_key(CLOCK_KEY_CONTEXT, state.get_handshake_hash());
        let peer_noise = state
            .get_remote_static()
            .ok_or(SessionError::BadProof("no static key"))?
            .to_vec();
        // Noise's split: the first key carries the dialer's messages, the second the
        // acceptor's.
        let (dialer, acceptor) = state.dangerously_get_raw_split();
        let keys = match state.is_initiator() {
            true => SessionKeys::new(&dialer, &acceptor),
            false => SessionKeys::new(&acceptor, &dialer),
        }
        .map_err(|_| SessionError::Keys)?;
        Ok(Session {
            peer,
            peer_noise,
            keys: Arc::new(keys),
            clock_key,
        })
    }

    /// The MAC key for clock sync between the two boxes of this session: the same on
    /// both ends, different for every session, unknown to anyone else.
    pub fn clock_key(&self) -> [u8; 32] {
        self.clock_key
    }

    /// The id the peer proved.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// For a peer that proved our own id (it holds our key: a cloned card): whether
    /// this box is the one that makes a new identity. Both sides decide alike, on their
    /// per-process Noise keys: the lower one yields.
    pub fn we_yield_to_clone(&self, keys: &Keys) -> bool {
        *keys.noise_public < *self.peer_noise
    }

    /// A codec for this session's frames. A connection split into a reader and a writer
    /// takes one each: each direction counts its own nonces.
    pub fn codec(&self) -> SessionCodec {
        SessionCodec::new(self.keys.clone())
    }
}

/// Runs the dialing side of a handshake on `io`, within [`HANDSHAKE_TIMEOUT`].
pub async fn initiate<S>(io: &mut S, keys: &Keys) -> Result<Session, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let steps = async {
        let (initiator, first) = Initiator::new(keys)?;
        send(io, &first).await?;
        let second = receive(io).await?;
        let (third, session) = initiator.finish(&second)?;
        send(io, &third).await?;
        Ok(session)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, steps)
        .await
        .unwrap_or(Err(SessionError::TimedOut))
}

/// Runs the accepting side of a handshake on `io`, within [`HANDSHAKE_TIMEOUT`].
pub async fn respond<S>(io: &mut S, keys: &Keys) -> Result<Session, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let steps = async {
        let first = receive(io).await?;
        let (responder, second) = Responder::new(keys, &first)?;
        send(io, &second).await?;
        let third = receive(io).await?;
        responder.finish(&third)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, steps)
        .await
        .unwrap_or(Err(SessionError::TimedOut))
}

/// Handshake messages go out as a 2-byte big-endian length, then the message.
async fn send<S: AsyncWrite + Unpin>(io: &mut S, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(message).await?;
    io.flush().await
}

async fn receive<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<Vec<u8>> {
    let len = io.read_u16().await?;
    let mut message = vec![0u8; usize::from(len)];
    io.read_exact(&mut message).await?;
    Ok(message)
}

/// Counts of what the sessions proved and refused, shared by every connection task.
#[derive(Debug, Default)]
pub struct SessionStats {
    handshakes: AtomicU64,
    handshake_failed: AtomicU64,
    wrong_id: AtomicU64,
    clones_seen: AtomicU64,
    refused_rate: AtomicU64,
    refused_busy: AtomicU64,
}

impl SessionStats {
    /// Counts a handshake's outcome; logs a failure.
    pub fn handshake<T>(&self, result: &Result<T, SessionError>, remote: Option<SocketAddr>) {
        match result {
            Ok(_) => self.handshakes.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tracing::debug!(?remote, error = %e, "session refused");
                self.handshake_failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Counts a peer that claimed `claimed` after proving `proven`, and logs it.
    pub fn wrong_id(&self, proven: NodeId, claimed: NodeId) {
        tracing::warn!(%proven, %claimed, "a box claimed an id it did not prove; connection closed");
        self.wrong_id.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed before its handshake: its address over its rate
    /// (`busy` false), or too many handshakes or connections already (`busy` true).
    pub fn refused(&self, remote: SocketAddr, busy: bool) {
        tracing::debug!(%remote, busy, "connection refused before its handshake");
        let counter = match busy {
            true => &self.refused_busy,
            false => &self.refused_rate,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts another box seen with this box's own id.
    pub fn clone_seen(&self) {
        self.clones_seen.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> SessionCounters {
        SessionCounters {
            handshakes: self.handshakes.load(Ordering::Relaxed),
            handshake_failed: self.handshake_failed.load(Ordering::Relaxed),
            wrong_id: self.wrong_id.load(Ordering::Relaxed),
            clones_seen: self.clones_seen.load(Ordering::Relaxed),
            refused_rate: self.refused_rate.load(Ordering::Relaxed),
            refused_busy: self.refused_busy.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;

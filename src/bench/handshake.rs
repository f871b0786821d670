//! What the party key costs on this machine's CPU, in process and wall time: a session
//! handshake (both ends) with and without the pre-shared key, deriving the keys at start
//! from a passphrase and from hex, and sealing and opening one datagram.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::identity::Identity;
use crate::net::noise::{Initiator, Keys, Responder, SessionError};
use crate::party_key::{PartyKey, PartyKeyError};
use crate::proto::seal::SealError;
use crate::proto::{encode_datagram, Beacon, BoxState, Message, NodeId};

/// Why the benchmark could not run (each is a bug, not a measurement).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeBenchError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Key(#[from] PartyKeyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("cannot encode the sample beacon: {0}")]
    Encode(String),
}

/// Median times, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct HandshakeReport {
    pub rounds: usize,
    /// One whole Noise XX handshake, both ends' work.
    pub open_handshake_us: f64,
    /// The same with the party key (XXpsk0).
    pub keyed_handshake_us: f64,
    /// Argon2id over a passphrase: once per start.
    pub derive_passphrase_us: f64,
    /// 64 hex digits: no stretching.
    pub derive_hex_us: f64,
    /// Size of the sample beacon, open and sealed.
    pub beacon_bytes: usize,
    pub sealed_beacon_bytes: usize,
    pub seal_us: f64,
    pub open_us: f64,
}

/// Runs each measurement `rounds` times (at least 1; a passphrase's derivation at most
/// 5) and reports the medians.
pub fn run(rounds: usize) -> Result<HandshakeReport, HandshakeBenchError> {
    let rounds = rounds.max(1);
    let key = PartyKey::derive("a passphrase for the benchmark")?;
    let (a, b) = (Identity::generate(), Identity::generate());
    let open = (Keys::new(&a)?, Keys::new(&b)?);
    let keyed = (
        Keys::new(&a)?.keyed(Some(&key)),
        Keys::new(&b)?.keyed(Some(&key)),
    );
    let open_handshake = median(rounds, || handshake(&open.0, &open.1))?;
    let keyed_handshake = median(rounds, || handshake(&keyed.0, &keyed.1))?;
    let derive_rounds = rounds.min(5);
    let derive_passphrase = median(derive_rounds, || {
        PartyKey::derive("a passphrase for the benchmark").map(drop)
    })?;
    let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let derive_hex = median(rounds, || PartyKey::derive(hex).map(drop))?;
    let beacon = sample_beacon()?;
    let sealed = key.seal(&beacon)?;
    let seal = median(rounds, || key.seal(&beacon).map(drop))?;
    let opened = median(rounds, || key.open(&sealed).map(drop))?;
    Ok(HandshakeReport {
        rounds,
        open_handshake_us: micros(open_handshake),
        keyed_handshake_us: micros(keyed_handshake),
        derive_passphrase_us: micros(derive_passphrase),
        derive_hex_us: micros(derive_hex),
        beacon_bytes: beacon.len(),
        sealed_beacon_bytes: sealed.len(),
        seal_us: micros(seal),
        open_us: micros(opened),
    })
}

fn handshake(dialer: &Keys, acceptor: &Keys) -> Result<(), HandshakeBenchError> {
    let (initiator, first) = Initiator::new(dialer)?;
    let (responder, second) = Responder::new(acceptor, &first)?;
    let (third, _) = initiator.finish(&second)?;
    responder.finish(&third)?;
    Ok(())
}

/// The median of `rounds` timed steps: on a busy machine a step that lost the CPU
/// midway lands in the upper half and leaves the median alone.
fn median<E>(
    rounds: usize,
    mut step: impl FnMut() -> Result<(), E>,
) -> Result<Duration, HandshakeBenchError>
where
    HandshakeBenchError: From<E>,
{
    step()?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        step()?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A beacon of a box in a party with a few peers: a typical datagram.
fn sample_beacon() -> Result<Vec<u8>, HandshakeBenchError> {
    let beacon = Beacon {
        id: NodeId(0x5f0c_2a9e_7d3b_1c44),
        boot: 7,
        seq: 1234,
        name: "kitchen".into(),
        unicast_port: 7701,
        control_port: 7702,
        state: BoxState::Idle,
        party: None,
        peers: vec![],
    };
    encode_datagram(&Message::Beacon(beacon))
        .map_err(|e| HandshakeBenchError::Encode(e.to_string()))
}

/// The report as lines of text.
pub fn summary(r: &HandshakeReport) -> String {
    format!(
        "session handshake, both ends, median of {n}:\n  open (XX)      {:>9.1} us\n  keyed (XXpsk0) {:>9.1} us\n\
         party key derivation at start:\n  passphrase (Argon2id) {:>9.1} us\n  64 hex digits         {:>9.1} us\n\
         one beacon ({} bytes, {} sealed):\n  seal {:>6.2} us\n  open {:>6.2} us\n",
        r.open_handshake_us,
        r.keyed_handshake_us,
        r.derive_passphrase_us,
        r.derive_hex_us,
        r.beacon_bytes,
        r.sealed_beacon_bytes,
        r.seal_us,
        r.open_us,
        n = r.rounds,
    )
}

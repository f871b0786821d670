use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::*;

const SEC: u64 = 1_000_000_000;

fn mono(nanos: u64) -> Instant {
    Instant::from_nanos(nanos)
}

#[test]
fn stamp_age_is_subtracted_from_monotonic_now() {
    let now_real = Duration::new(1_700_000_000, 500_000_000);
    let rx_real = now_real - Duration::from_micros(250);
    assert_eq!(
        to_monotonic(rx_real, now_real, mono(10 * SEC)),
        mono(10 * SEC - 250_000)
    );
}

#[test]
fn stamp_from_the_future_maps_to_now() {
    // The wall clock was stepped back between the stamp and our read.
    let now_real = Duration::from_secs(1_000);
    let rx_real = Duration::from_secs(1_060);
    assert_eq!(
        to_monotonic(rx_real, now_real, mono(5 * SEC)),
        mono(5 * SEC)
    );
}

#[test]
fn stamp_older_than_a_second_is_clamped() {
    // The wall clock was stepped forward by an hour.
    let now_real = Duration::from_secs(10_000);
    let rx_real = Duration::from_secs(10_000 - 3_600);
    assert_eq!(
        to_monotonic(rx_real, now_real, mono(5 * SEC)),
        mono(4 * SEC)
    );
    // Near the clock's origin the result saturates instead of wrapping.
    assert_eq!(to_monotonic(rx_real, now_real, mono(1_000)), mono(0));
}

#[test]
fn no_stamp_means_received_now() {
    let (now, rx) = now_and_rx(None);
    assert_eq!(rx, now);
}

async fn loopback_pair(stamped: bool) -> (UdpSocket, UdpSocket, SocketAddr) {
    let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    if stamped {
        enable(&receiver).unwrap();
    }
    let to = receiver.local_addr().unwrap();
    let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    (receiver, sender, to)
}

#[tokio::test]
async fn loopback_datagram_carries_a_kernel_stamp_between_send_and_read() {
    let (receiver, sender, to) = loopback_pair(true).await;
    let mut control = control_buffer();
    let mut buf = [0u8; 64];
    let real_before = realtime_now();
    let mono_before = monotonic_now();
    sender.send_to(b"tick", to).await.unwrap();
    let got = recv(&receiver, &mut buf, &mut control).await.unwrap();
    let (now, rx) = now_and_rx(got.kernel_rx);
    let real_after = realtime_now();

    assert_eq!(&buf[..got.len], b"tick");
    assert_eq!(got.from, sender.local_addr().unwrap());
    let stamp = got
        .kernel_rx
        .expect("SO_TIMESTAMPNS gives a stamp on Linux");
    assert!(
        real_before <= stamp && stamp <= real_after,
        "stamp outside the send..read window"
    );
    assert!(rx <= now);
    // Realtime and monotonic are read a few ns apart, hence the small slack.
    let slack = Duration::from_millis(1);
    assert!(
        rx + slack >= mono_before,
        "rx {rx:?} before the send at {mono_before:?}"
    );
    assert!(now - rx <= real_after - real_before + slack);
}

#[tokio::test]
async fn socket_without_stamping_falls_back_to_read_time() {
    let (receiver, sender, to) = loopback_pair(false).await;
    let mut control = control_buffer();
    let mut buf = [0u8; 64];
    sender.send_to(b"tock", to).await.unwrap();
    let got = recv(&receiver, &mut buf, &mut control).await.unwrap();
    assert_eq!(&buf[..got.len], b"tock");
    assert_eq!(got.kernel_rx, None);
}

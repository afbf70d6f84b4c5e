//! Checksum offload per keyword (issue 7 §4, fifth bullet): the granular keywords decide what
//! Windows's stack asks the miniport to compute on send and what the miniport vouches for on
//! receive — and a frame corrupted on the host side is never reported checksum-succeeded.

use std::time::Duration;

use netkvm_e2e::capture::inject;
use netkvm_e2e::pkt::{self, Endpoints};
use netkvm_e2e::shape::{RxSnap, TxSnap};
use netkvm_e2e::traffic::{spawn_in, tcp_transfer, udp_transfer, UdpSpec};
use netkvm_e2e::{E2e, Opts};

/// Both directions, TCP and UDP, a few MiB each; returns the stand-in counters of the run.
fn traffic(e: &E2e, port: u16) -> (TxSnap, RxSnap) {
    let t0 = e.standin().tx_stats();
    let r0 = e.standin().rx_stats();
    let t = Duration::from_secs(60);
    let up = tcp_transfer(e.guest_ns(), e.host_ns(), e.host_ip(), port, 4 << 20, t).unwrap();
    let down = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        port + 1,
        4 << 20,
        t,
    )
    .unwrap();
    assert!(up.intact() && down.intact(), "{up:?} {down:?}");
    let u = udp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        port + 2,
        UdpSpec::count(1000, 2000),
    )
    .unwrap();
    assert_eq!(u.received, 2000, "{u:?}");
    let d = udp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        port + 3,
        UdpSpec::count(1000, 2000),
    )
    .unwrap();
    assert_eq!(d.received, 2000, "{d:?}");
    (
        e.standin().tx_stats().since(&t0),
        e.standin().rx_stats().since(&r0),
    )
}

#[test]
fn tcp_checksum_keyword_selects_tx_requests_and_rx_verdicts() {
    testbed::require_testbed!();
    // Keep LSO out of the picture: it computes TCP checksums regardless of the keyword.
    let e = E2e::start(
        Opts::default()
            .kw("*LsoV2IPv4", "0")
            .kw("*LsoV1IPv4", "0")
            .kw("*LsoV2IPv6", "0")
            .kw("*RscIPv4", "0")
            .kw("*RscIPv6", "0"),
    )
    .expect("bench");
    for (v, tx_on, rx_on) in [
        ("0", false, false),
        ("1", true, false),
        ("2", false, true),
        ("3", true, true),
    ] {
        e.set_keyword("*TCPChecksumOffloadIPv4", v).unwrap();
        let (tx, rx) = traffic(&e, 7000 + 10 * v.parse::<u16>().unwrap());
        eprintln!(
            "*TCPChecksumOffloadIPv4={v}: tx {:?} rx {:?}",
            tx.nonzero(),
            rx.nonzero()
        );
        assert_eq!(
            tx.csum_tcp > 0,
            tx_on,
            "TCP checksum requests with {v}: {tx:?}"
        );
        assert_eq!(
            tx.sw_csum > 0,
            !tx_on,
            "the stack computes what the adapter does not: {tx:?}"
        );
        assert_eq!(
            rx.verdict_tcp_ok > 0,
            rx_on,
            "TcpChecksumSucceeded with {v}: {rx:?}"
        );
        // UDP is untouched by the TCP keyword.
        assert!(tx.csum_udp > 0 && rx.verdict_udp_ok > 0, "{tx:?} {rx:?}");
        assert_eq!(rx.lies(), 0);
    }
    e.finish().unwrap().assert_clean();
}

#[test]
fn ip_and_udp_checksum_keywords_off_mean_no_requests_and_no_verdicts() {
    testbed::require_testbed!();
    let e = E2e::start(
        Opts::default()
            .kw("*IPChecksumOffloadIPv4", "0")
            .kw("*UDPChecksumOffloadIPv4", "0")
            .kw("*UsoIPv4", "0"),
    )
    .expect("bench");
    let (tx, rx) = traffic(&e, 7100);
    assert_eq!((tx.csum_ip, tx.csum_udp), (0, 0), "{tx:?}");
    // SCUs always carry IpChecksumSucceeded (spec §1.7), whatever the keyword.
    assert_eq!(
        (rx.verdict_ip_ok, rx.verdict_udp_ok),
        (rx.scus, 0),
        "IP/UDP verdicts only on SCUs: {rx:?}"
    );
    assert!(
        tx.csum_tcp > 0 || tx.lso_v2 > 0,
        "TCP offloads unaffected: {tx:?}"
    );
    e.set_keywords(&[
        ("*IPChecksumOffloadIPv4", "3"),
        ("*UDPChecksumOffloadIPv4", "3"),
    ])
    .unwrap();
    let (tx, rx) = traffic(&e, 7110);
    assert!(tx.csum_ip > 0 && tx.csum_udp > 0, "{tx:?}");
    assert!(rx.verdict_ip_ok > 0 && rx.verdict_udp_ok > 0, "{rx:?}");
    e.finish().unwrap().assert_clean();
}

#[test]
fn frames_corrupted_on_the_host_side_are_never_reported_checksum_succeeded() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    // Resolve the guest's MAC and open a UDP sink in the guest.
    assert_eq!(
        netkvm_e2e::traffic::ping(e.host_ns(), e.guest_ip(), 1).unwrap(),
        1
    );
    let host_mac = netkvm_e2e::traffic::mac_of(e.host_ns(), e.tb().host_tap()).unwrap();
    let mac = |s: &str| -> [u8; 6] {
        let v: Vec<u8> = s
            .split(':')
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect();
        v.try_into().unwrap()
    };
    let ep = Endpoints {
        src_mac: mac(&host_mac),
        dst_mac: mac("52:54:00:12:34:56"),
        src_ip: e.host_ip().octets(),
        dst_ip: e.guest_ip().octets(),
        sport: 9999,
        dport: 7200,
    };
    let sink = spawn_in(e.guest_ns(), "sink", move || {
        let s = std::net::UdpSocket::bind("0.0.0.0:7200").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let mut n = 0u32;
        let mut buf = [0u8; 2048];
        while let Ok(k) = s.recv(&mut buf) {
            assert!(
                buf[..k].starts_with(b"good"),
                "a corrupted datagram reached the socket"
            );
            n += 1;
        }
        n
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r0 = e.standin().rx_stats();
    let mut frames = Vec::new();
    for i in 0..50u32 {
        let mut good = b"good".to_vec();
        good.extend_from_slice(&[i as u8; 500]);
        frames.push(pkt::udp4(&ep, &good));
        // A datagram with one payload bit flipped after its checksum was computed.
        let mut evil = b"bad!".to_vec();
        evil.extend_from_slice(&[i as u8; 500]);
        let mut bad = pkt::udp4(&ep, &evil);
        let last = bad.len() - 1;
        bad[last] ^= 0x20;
        frames.push(bad);
        // A wrong IPv4 header checksum.
        let mut badip = pkt::udp4(&ep, &evil);
        badip[24] ^= 0xFF;
        frames.push(badip);
        // A TCP segment with a wrong checksum.
        let mut badtcp = pkt::tcp4(
            &Endpoints { dport: 7201, ..ep },
            &pkt::TcpSeg::default(),
            b"payload",
        );
        badtcp[60] ^= 1;
        frames.push(badtcp);
    }
    inject(e.host_ns(), e.tb().host_tap(), frames).unwrap();
    let got = sink.join().unwrap().unwrap();
    assert_eq!(got, 50, "every good datagram arrives, no corrupted one");
    let rx = e.standin().rx_stats().since(&r0);
    eprintln!("rx {:?}", rx.nonzero());
    assert_eq!(
        rx.lies(),
        0,
        "a corrupted frame was reported checksum-succeeded: {rx:?}"
    );
    e.finish().unwrap().assert_clean();
}

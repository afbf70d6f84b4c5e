//! UDP guest→host (issue 7 §4, third bullet), as in the USO reference test: 1472-byte datagrams
//! at MTU 1500, 8972 at MTU 9000, 65507 (IP fragments) with USO on and off; and a
//! `UDP_SEGMENT` sender whose super-datagrams Windows would hand the miniport as USO sends —
//! with the device segmenting (`HOST_USO`), with USO disabled, and with `host_uso=off`
//! (software USO in the driver). Datagram counts and sizes must be exact: the transfers are
//! paced by the receiver, so any loss or change is the datapath's.

use netkvm_e2e::capture::{Capture, Dir};
use netkvm_e2e::traffic::{udp_transfer, UdpResult, UdpSpec};
use netkvm_e2e::{E2e, Opts};

fn exact(r: &UdpResult, n: u64) {
    assert_eq!(r.sent, n, "sender could not send everything: {r:?}");
    assert_eq!(
        (r.received, r.bad, r.duplicates),
        (n, 0, 0),
        "datagrams lost, changed or doubled: {r:?}"
    );
}

fn transfer(e: &E2e, port: u16, spec: UdpSpec) -> UdpResult {
    udp_transfer(e.guest_ns(), e.host_ns(), e.host_ip(), port, spec).expect("transfer")
}

#[test]
fn udp_1472_byte_datagrams_at_mtu_1500_arrive_exactly() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let r = transfer(&e, 6001, UdpSpec::count(1472, 20_000));
    exact(&r, 20_000);
    let f = e.finish().unwrap();
    f.assert_clean();
    assert!(
        f.tx.csum_udp > 0,
        "UDP checksum offload requested: {:?}",
        f.tx
    );
}

#[test]
fn udp_8972_byte_datagrams_at_mtu_9000_arrive_exactly() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().mtu(9000)).expect("bench");
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::FromDevice, 9000).unwrap();
    let r = transfer(&e, 6002, UdpSpec::count(8972, 5_000));
    let c = cap.stop();
    exact(&r, 5_000);
    assert_eq!(c.over_mtu, 0, "{c:?}");
    assert!(c.max_len >= 9000 + 14, "jumbo frames on the wire: {c:?}");
    e.finish().unwrap().assert_clean();
}

#[test]
fn udp_65507_byte_datagrams_arrive_exactly_with_uso_on_and_off() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let r = transfer(&e, 6003, UdpSpec::count(65507, 600));
    exact(&r, 600);
    e.set_keywords(&[("*UsoIPv4", "0"), ("*UsoIPv6", "0")])
        .expect("USO off");
    let r = transfer(&e, 6004, UdpSpec::count(65507, 600));
    exact(&r, 600);
    e.finish().unwrap().assert_clean();
}

#[test]
fn udp_segment_sender_is_sent_as_uso_and_every_datagram_arrives() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::FromDevice, 1500).unwrap();
    let r = transfer(&e, 6005, UdpSpec::count(1472, 22_000).gso(22));
    let c = cap.stop();
    exact(&r, 22_000);
    assert!(c.gso > 0, "the device got USO frames (HOST_USO): {c:?}");
    assert_eq!(c.udp_frames, 22_000, "{c:?}");
    let f = e.finish().unwrap();
    f.assert_clean();
    assert!(f.tx.uso > 500, "USO sends: {:?}", f.tx);
}

#[test]
fn udp_segment_sender_with_uso_disabled_sends_single_datagrams() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().kw("*UsoIPv4", "0").kw("*UsoIPv6", "0")).expect("bench");
    let r = transfer(&e, 6006, UdpSpec::count(1472, 22_000).gso(22));
    exact(&r, 22_000);
    let f = e.finish().unwrap();
    f.assert_clean();
    assert_eq!(f.tx.uso, 0, "no USO while it is disabled: {:?}", f.tx);
}

#[test]
fn udp_segment_sender_with_host_uso_off_is_segmented_by_the_driver() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().prop("host_uso", "off")).expect("bench");
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::FromDevice, 1500).unwrap();
    let r = transfer(&e, 6007, UdpSpec::count(1472, 22_000).gso(22));
    let c = cap.stop();
    exact(&r, 22_000);
    assert_eq!(
        (c.gso, c.over_mtu),
        (0, 0),
        "software USO puts MTU frames on the wire: {c:?}"
    );
    assert_eq!(c.bad_csum, 0, "{c:?}");
    let f = e.finish().unwrap();
    f.assert_clean();
    assert!(f.tx.uso > 500, "the driver still offers USO: {:?}", f.tx);
}

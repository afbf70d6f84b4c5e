//! First light: one frame out, one frame in, through the real handlers in ndis-emu and the fake device.

mod datapath_support;

use std::time::Duration;

use datapath_support::*;
use ndis_emu::NblSpec;
use ndis_sys as n;
use netkvm_virtio::fake::FakeConfig;

#[test]
fn one_udp_frame_goes_out_and_one_comes_in() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let frame = udp4_out(b"hello, wire");
    let nbl = h.nbl(&NblSpec::frames(&[&frame])).unwrap();
    h.send(vec![nbl]).unwrap();
    let sent = bus.wait_tx(1, Duration::from_secs(5));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.frame, frame);
    let done = h.wait_completions(1, Duration::from_secs(5));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, n::NDIS_STATUS_SUCCESS);

    let rx = udp4(PEER_MAC, DEV_MAC, 5000, 4000, b"hello, driver");
    deliver(&bus, 0, &rx);
    let got = recv_n(&mut h, 1, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "received");
    // 55 bytes on the wire: indicated padded to the 60-byte Ethernet minimum, as NetKVM does.
    let mut padded = rx.clone();
    padded.resize(60, 0);
    assert_eq!(got[0].frames, vec![padded]);
    let csum = got[0].info(n::TcpIpChecksumNetBufferListInfo);
    assert_eq!(csum & (UDP_OK | IP_OK), UDP_OK | IP_OK, "{csum:#x}");
    down(&mut h);
}

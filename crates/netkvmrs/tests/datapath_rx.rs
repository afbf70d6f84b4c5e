//! The receive path through the real handlers (ndis-emu) and the fake virtio device: checksum verdicts,
//! multi-buffer frames, host-coalesced frames (host GRO and QEMU's RSC_EXT) and software RSC (RSC info
//! and statistics), 802.1Q, the software packet filter, RSS hash values and processor steering,
//! low-resource indications, the per-DPC budget.

mod datapath_support;

use std::time::Duration;

use datapath_support::*;
use ndis_emu::{EmuConfig, OidRequest};
use ndis_sys as n;
use netkvm_virtio::fake::FakeConfig;
use netkvm_virtio::Features;

const T: Duration = Duration::from_secs(10);

fn recv1(h: &mut ndis_emu::Harness) -> ndis_emu::RxNbl {
    let r = recv_n(h, 1, T);
    assert_eq!(r.len(), 1, "exactly one indication");
    r.into_iter().next().unwrap()
}

fn csum_bits(r: &ndis_emu::RxNbl) -> usize {
    r.info(n::TcpIpChecksumNetBufferListInfo)
}

#[test]
fn checksum_verdicts_are_reported_and_a_bad_frame_is_never_succeeded() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let payload = pattern(200, 3);
    // Good TCP, no device help: verified in software.
    let good = tcp4_flow(1001, 80, 5, &payload);
    deliver(&bus, 0, &good);
    let r = recv1(&mut h);
    assert_eq!(r.frames[0], good);
    assert_eq!(csum_bits(&r) & 0x3F, TCP_OK | IP_OK);
    // A corrupted payload byte: TCP failed, never succeeded.
    let mut bad = tcp4_flow(1002, 80, 5, &payload);
    let last = bad.len() - 1;
    bad[last] ^= 0x5A;
    deliver(&bus, 0, &bad);
    let r = recv1(&mut h);
    assert_eq!(csum_bits(&r) & (TCP_OK | TCP_FAILED), TCP_FAILED);
    // A corrupted IPv4 header checksum.
    let mut badip = tcp4_flow(1003, 80, 5, &payload);
    badip[24] ^= 0xFF;
    deliver(&bus, 0, &badip);
    let r = recv1(&mut h);
    assert_eq!(csum_bits(&r) & (IP_OK | IP_FAILED), IP_FAILED);
    // NEEDS_CSUM from a local sender: completed in the frame, reported good.
    let mut partial = udp4(PEER_MAC, DEV_MAC, 53, 4000, &payload);
    let ulen = (partial.len() - 34) as u16;
    let mut ps = partial[26..34].to_vec();
    ps.extend_from_slice(&[0, 17]);
    ps.extend_from_slice(&ulen.to_be_bytes());
    let p = ones_sum(&ps);
    partial[40..42].copy_from_slice(&p.to_be_bytes());
    deliver_with(
        &bus,
        0,
        &vnet(F_NEEDS_CSUM, GSO_NONE, 0, 0, 34, 6),
        &partial,
    );
    let r = recv1(&mut h);
    assert_eq!(csum_bits(&r) & (UDP_OK | UDP_FAILED), UDP_OK);
    assert!(
        checksums_ok(&r.frames[0]),
        "the checksum was completed in place"
    );
    // DATA_VALID: the device vouched for it.
    deliver_with(&bus, 0, &vnet(F_DATA_VALID, GSO_NONE, 0, 0, 0, 0), &good);
    let r = recv1(&mut h);
    assert_eq!(csum_bits(&r) & (TCP_OK | TCP_FAILED), TCP_OK);
    down(&mut h);
}

#[test]
fn a_jumbo_frame_spanning_several_mergeable_buffers_arrives_intact() {
    let _s = serial();
    // No receive GSO: only MTU frames can arrive, so mergeable buffers are single 4 KiB pages.
    let cfg = FakeConfig {
        mtu: 9000,
        ..fake_without(
            Features::GUEST_TSO4
                | Features::GUEST_TSO6
                | Features::GUEST_USO4
                | Features::GUEST_USO6,
        )
    };
    let (mut h, bus) = harness(cfg, &[("*JumboPacket", "9014")], emu());
    up(&mut h);
    let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(8972, 1));
    let used = bus
        .device()
        .deliver_rx(0, &vnet(0, GSO_NONE, 0, 0, 0, 0), &f)
        .unwrap();
    assert_eq!(used, 3, "12 + 9014 bytes in 4 KiB pages");
    let r = recv1(&mut h);
    assert_eq!(r.frames[0], f);
    assert_eq!(csum_bits(&r) & (UDP_OK | IP_OK), UDP_OK | IP_OK);
    down(&mut h);
}

#[test]
fn host_coalesced_frames_carry_the_segment_count_and_succeeded_checksums() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let payload = pattern(64_000, 2);
    let mut f = tcp4_flow(5001, 40000, 100, &payload);
    // The host's GRO super-frame: partial TCP checksum, and (QEMU defect 1) a stale IPv4 checksum.
    let len = (f.len() - 34) as u16;
    let mut ps = f[26..34].to_vec();
    ps.extend_from_slice(&[0, 6]);
    ps.extend_from_slice(&len.to_be_bytes());
    let p = ones_sum(&ps);
    f[50..52].copy_from_slice(&p.to_be_bytes());
    f[24] ^= 0x55;
    deliver_with(
        &bus,
        0,
        &vnet(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16),
        &f,
    );
    let r = recv1(&mut h);
    let got = &r.frames[0];
    assert_eq!(l4_payload(got), payload);
    assert_eq!(
        ones_sum(&got[14..34]),
        0xFFFF,
        "IPv4 header checksum recomputed"
    );
    let rsc = r.info(n::TcpRecvSegCoalesceInfo);
    assert_eq!(
        rsc & 0xFFFF,
        64_000usize.div_ceil(1448),
        "CoalescedSegCount"
    );
    assert_eq!(rsc >> 16 & 0xFFFF, 0, "DupAckCount");
    assert_eq!(
        csum_bits(&r) & 0x1FF,
        IP_OK | TCP_OK | TCP_VALUE_INVALID,
        "spec §1.7"
    );
    let (pkts, octets, events, _) = rsc_statistics(&mut h);
    assert_eq!((pkts, octets, events), (45, 64_000, 1));
    let st = statistics(&mut h);
    assert_eq!(st.ifHCInUcastPkts, 45, "segments counted");
    down(&mut h);
}

#[test]
fn rsc_ext_frames_take_the_segment_and_dup_ack_counts_from_the_header() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let negotiated = bus.device().driver_features().contains(Features::RSC_EXT);
    let payload = pattern(20_000, 4);
    let mut f = tcp4_flow(5001, 40000, 100, &payload);
    // QEMU's coalescer (virtio_net_rsc_drain_seg): flags RSC_INFO only, csum_start = segments,
    // csum_offset = duplicate ACKs; TCP and (defect 1) IPv4 checksums left stale.
    f[24] ^= 0x33;
    f[50] ^= 0x11;
    let ext = |segs: u16, dup: u16| vnet(F_RSC_INFO, GSO_TCPV4, 0, 0, segs, dup);
    deliver_with(&bus, 0, &ext(14, 3), &f);
    // Zero segments is not a coalesced frame: dropped.
    deliver_with(&bus, 0, &ext(0, 0), &f);
    if !negotiated {
        // Policy refused the offer: RSC_INFO is then a header the device may not send.
        deliver(&bus, 0, &udp4(PEER_MAC, DEV_MAC, 53, 4000, b"probe"));
        assert_eq!(l4_payload(&recv1(&mut h).frames[0]), b"probe");
        assert_eq!(statistics(&mut h).ifInErrors, 2);
        down(&mut h);
        return;
    }
    let r = recv1(&mut h);
    let got = &r.frames[0];
    assert_eq!(l4_payload(got), payload);
    assert_eq!(
        ones_sum(&got[14..34]),
        0xFFFF,
        "IPv4 header checksum recomputed"
    );
    let rsc = r.info(n::TcpRecvSegCoalesceInfo);
    assert_eq!(rsc & 0xFFFF, 14, "CoalescedSegCount from the header");
    assert_eq!(rsc >> 16 & 0xFFFF, 3, "DupAckCount from the header");
    assert_eq!(
        csum_bits(&r) & 0x1FF,
        IP_OK | TCP_OK | TCP_VALUE_INVALID,
        "spec §1.7: the stale TCP checksum is marked invalid, not failed"
    );
    deliver(&bus, 0, &udp4(PEER_MAC, DEV_MAC, 53, 4000, b"probe"));
    assert_eq!(l4_payload(&recv1(&mut h).frames[0]), b"probe");
    let st = statistics(&mut h);
    assert_eq!(st.ifInErrors, 1, "the zero-segment frame");
    assert_eq!(
        st.ifHCInUcastPkts,
        14 + 1,
        "segments counted (and the probe)"
    );
    let (pkts, octets, events, _) = rsc_statistics(&mut h);
    assert_eq!((pkts, octets, events), (14, 20_000, 1));
    down(&mut h);
}

#[test]
fn runts_are_padded_to_the_ethernet_minimum_but_a_coalesced_frame_keeps_its_length() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    // 44 bytes (2 bytes of UDP data): indicated as 60, zero-padded.
    let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, b"hi");
    assert_eq!(f.len(), 44);
    deliver(&bus, 0, &f);
    let r = recv1(&mut h);
    assert_eq!(r.frames[0].len(), 60);
    assert_eq!(&r.frames[0][..44], &f[..]);
    assert!(r.frames[0][44..].iter().all(|&b| b == 0));
    if !bus.device().driver_features().contains(Features::RSC_EXT) {
        down(&mut h);
        return;
    }
    // QEMU's coalescer: 1 byte of data plus a window update → a 55-byte frame counted as 2
    // segments, IPv4 checksum stale. An SCU's length is its datagram's: no padding.
    let mut t = tcp4_flow(5001, 40000, 7, b"x");
    assert_eq!(t.len(), 55);
    t[24] ^= 0x05;
    deliver_with(&bus, 0, &vnet(F_RSC_INFO, GSO_TCPV4, 0, 0, 2, 0), &t);
    let r = recv1(&mut h);
    let got = &r.frames[0];
    assert_eq!(got.len(), 55, "no padding after an SCU");
    assert_eq!(u16::from_be_bytes([got[16], got[17]]), 41);
    assert_eq!(
        ones_sum(&got[14..34]),
        0xFFFF,
        "IPv4 header checksum recomputed"
    );
    assert_eq!(r.info(n::TcpRecvSegCoalesceInfo) & 0xFFFF, 2);
    down(&mut h);
}

#[test]
fn software_rsc_coalesces_a_batch_of_mtu_segments_into_one_scu() {
    let _s = serial();
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[],
        emu_polled(Duration::from_millis(50)),
    );
    up(&mut h);
    let mut all = Vec::new();
    let mut frames = Vec::new();
    for i in 0..10u32 {
        let pl = pattern(1448, i as u8);
        all.extend_from_slice(&pl);
        frames.push(tcp4_in(1000 + i * 1448, 77, &pl, i == 9));
    }
    after_poll(&h);
    for f in &frames {
        deliver(&bus, 0, f);
    }
    let r = recv1(&mut h);
    let scu = &r.frames[0];
    assert_eq!(l4_payload(scu), all);
    assert!(checksums_ok(scu), "SCU headers and checksums rewritten");
    assert_eq!(tcp_seq(scu), 1000);
    assert_eq!(r.info(n::TcpRecvSegCoalesceInfo) & 0xFFFF, 10);
    assert_eq!(csum_bits(&r) & (IP_OK | TCP_OK), IP_OK | TCP_OK);
    let (pkts, octets, events, aborts) = rsc_statistics(&mut h);
    assert_eq!((pkts, octets, events, aborts), (10, 10 * 1448, 1, 0));
    down(&mut h);
}

fn tagged(f: &[u8], pcp: u8, vid: u16) -> Vec<u8> {
    let tci = (u16::from(pcp) << 13) | vid;
    let mut v = f[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&tci.to_be_bytes());
    v.extend_from_slice(&f[12..]);
    v
}

#[test]
fn the_8021q_tag_is_stripped_and_reported_and_foreign_vlans_are_dropped() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("VlanID", "7")], emu());
    up(&mut h);
    let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(100, 4));
    deliver(&bus, 0, &tagged(&f, 5, 8));
    deliver(&bus, 0, &tagged(&f, 5, 7));
    let r = recv1(&mut h);
    assert_eq!(r.frames[0], f, "tag stripped");
    let q = r.info(n::Ieee8021QNetBufferListInfo);
    assert_eq!((q & 7, (q >> 4) & 0xFFF), (5, 7));
    std::thread::sleep(Duration::from_millis(20));
    assert!(h.drain_received().is_empty(), "VLAN 8 was not indicated");
    assert_eq!(statistics(&mut h).ifInDiscards, 1);
    down(&mut h);
}

#[test]
fn the_packet_filter_is_applied_in_software() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let body = pattern(100, 9);
    let to = |dst: [u8; 6]| udp4(PEER_MAC, dst, 53, 4000, &body);
    let other = [0x52, 0x54, 0, 0x12, 0x34, 0x99];
    let listed = [0x01, 0x00, 0x5e, 0, 0, 1];
    let unlisted = [0x01, 0x00, 0x5e, 0, 0, 2];
    let bcast = [0xFF; 6];
    // Bind filter: directed | multicast | broadcast, list {01:00:5e:00:00:01, 33:33:00:00:00:01}.
    for d in [other, listed, unlisted, bcast, DEV_MAC] {
        deliver(&bus, 0, &to(d));
    }
    let got = recv_n(&mut h, 3, T);
    let dsts: Vec<[u8; 6]> = got
        .iter()
        .map(|r| r.frames[0][..6].try_into().unwrap())
        .collect();
    assert_eq!(dsts, vec![listed, bcast, DEV_MAC]);
    assert_eq!(statistics(&mut h).ifInDiscards, 2);
    let st = statistics(&mut h);
    assert_eq!(
        (
            st.ifHCInUcastPkts,
            st.ifHCInMulticastPkts,
            st.ifHCInBroadcastPkts
        ),
        (1, 1, 1)
    );
    let r = h
        .oid(OidRequest::set_u32(
            n::OID_GEN_CURRENT_PACKET_FILTER,
            n::NDIS_PACKET_TYPE_PROMISCUOUS,
        ))
        .unwrap();
    assert!(r.ok(), "{:#x}", r.status as u32);
    deliver(&bus, 0, &to(other));
    deliver(&bus, 0, &to(unlisted));
    assert_eq!(
        recv_n(&mut h, 2, T).len(),
        2,
        "promiscuous passes everything"
    );
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0))
        .unwrap();
    assert!(r.ok(), "{:#x}", r.status as u32);
    deliver(&bus, 0, &to(DEV_MAC));
    std::thread::sleep(Duration::from_millis(30));
    assert!(h.drain_received().is_empty(), "filter 0 passes nothing");
    down(&mut h);
}

#[test]
fn rss_hash_values_are_reported_and_frames_are_indicated_on_the_table_processor() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let key = ndis_emu::oid::DEFAULT_RSS_KEY;
    let mut per_cpu = [0usize; 2];
    for i in 0..24u16 {
        let sport = 1000 + i * 7;
        let f = tcp4_flow(sport, 80, 1, &pattern(100, i as u8));
        deliver(&bus, 0, &f);
        let r = recv1(&mut h);
        let mut input = PEER_IP.to_vec();
        input.extend_from_slice(&MY_IP);
        input.extend_from_slice(&sport.to_be_bytes());
        input.extend_from_slice(&80u16.to_be_bytes());
        let want = toeplitz(&key, &input);
        assert_eq!(r.info(n::NetBufferListHashValue) as u32, want, "flow {i}");
        assert_eq!(
            r.info(n::NetBufferListHashInfo) as u32,
            n::NDIS_HASH_TCP_IPV4 | 1,
            "type TCP_IPV4, Toeplitz"
        );
        // The bind's table: entry e → processor e % 2.
        let cpu = (want & 127) % 2;
        assert_eq!(r.cpu, cpu, "flow {i} indicated on the table's processor");
        per_cpu[cpu as usize] += 1;
    }
    assert!(per_cpu[0] > 0 && per_cpu[1] > 0, "{per_cpu:?}");
    down(&mut h);
}

#[test]
fn low_free_buffers_make_indications_carry_the_resources_flag() {
    let _s = serial();
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[("RxCapacity", "16"), ("MinRxBufferPercent", "50")],
        emu(),
    );
    up(&mut h);
    h.set_manual_return(true);
    let mut flags = Vec::new();
    for i in 0..12u8 {
        let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(100, i));
        deliver(&bus, 0, &f);
        let r = recv1(&mut h);
        assert_eq!(r.frames[0], f);
        flags.push(r.receive_flags & n::NDIS_RECEIVE_FLAGS_RESOURCES != 0);
    }
    // 16 buffers, threshold 8: the 9th frame leaves 7 posted.
    assert_eq!(flags, [[false; 8].as_slice(), &[true; 4]].concat());
    assert_eq!(
        h.outstanding_receives(),
        8,
        "RESOURCES indications are not held"
    );
    h.return_received(None);
    wait_for("returns", T, || h.outstanding_receives() == 0);
    deliver(
        &bus,
        0,
        &udp4(PEER_MAC, DEV_MAC, 53, 4000, b"after the returns"),
    );
    let r = recv1(&mut h);
    assert_eq!(r.receive_flags & n::NDIS_RECEIVE_FLAGS_RESOURCES, 0);
    down(&mut h);
}

#[test]
fn the_dpc_budget_requeues_until_everything_is_indicated() {
    let _s = serial();
    for (keywords, max_nbls) in [
        (
            &[("NumberOfHandledRXPacketsInDPC", "4")][..],
            n::NDIS_INDICATE_ALL_NBLS,
        ),
        (&[][..], 8),
    ] {
        let cfg = EmuConfig {
            dpc_max_nbls: max_nbls,
            ..emu_polled(Duration::from_millis(50))
        };
        let (mut h, bus) = harness(FakeConfig::default(), keywords, cfg);
        up(&mut h);
        after_poll(&h);
        for i in 0..100u8 {
            deliver(&bus, 0, &udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(80, i)));
        }
        let got = recv_n(&mut h, 100, T);
        assert_eq!(got.len(), 100, "{keywords:?} / {max_nbls}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!(l4_payload(&r.frames[0]), pattern(80, i as u8), "order");
        }
        down(&mut h);
    }
}

#[test]
fn short_shared_memory_makes_receive_buffers_fall_back_to_single_pages() {
    let _s = serial();
    // Two pairs of 4 MiB (16 KiB buffers, or 4 KiB buffers with a reserve) plus rings and slots do not
    // fit an 8.5 MiB arena; a ring's worth of 4 KiB buffers for the second pair does.
    let cfg = FakeConfig {
        pairs: 2,
        memory: 17 << 19,
        ..FakeConfig::default()
    };
    let (mut h, bus) = harness(cfg, &[], emu());
    up(&mut h);
    assert!(
        h.log()
            .iter()
            .any(|l| l.text.contains("using 4 KiB buffers without a reserve")),
        "fallback logged"
    );
    for q in 0..2u16 {
        let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(300, q as u8));
        deliver(&bus, 2 * q, &f);
        let r = recv1(&mut h);
        assert_eq!(r.frames[0], f, "queue {q}");
    }
    down(&mut h);
}

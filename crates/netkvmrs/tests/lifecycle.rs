//! The real handlers in the user-mode NDIS (ndis-emu) against netkvm-virtio's fake virtio-net device:
//! DriverEntry → InitializeEx → the bind OIDs → Restart → Pause → Halt → Unload, with the attributes,
//! the negotiated features, the queue/vector layout and the registry checked; ndis-emu fails the test on
//! any contract violation and on anything leaked at Halt.

mod common;

use common::*;
use ndis_emu::{EmuConfig, OidRequest};
use ndis_sys as n;
use netkvm_virtio::fake::FakeConfig;

#[test]
fn full_lifecycle_sets_the_attributes_and_answers_the_bind_sequence() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let a = h.attributes();
    let r = a.registration.expect("registration attributes");
    for (flag, name) in [
        (
            n::NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE,
            "HARDWARE_DEVICE",
        ),
        (n::NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER, "BUS_MASTER"),
        (
            n::NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND,
            "NO_HALT_ON_SUSPEND",
        ),
        (
            n::NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK,
            "SURPRISE_REMOVE_OK",
        ),
    ] {
        assert_eq!(r.AttributeFlags & flag, flag, "{name}");
    }
    let g = a.general.expect("general attributes");
    assert_eq!(g.MtuSize, 1500);
    assert_eq!(
        &g.CurrentMacAddress[..6],
        &[0x52, 0x54, 0, 0x12, 0x34, 0x56]
    );
    assert_eq!(g.MediaConnectState, n::MediaConnectStateConnected);
    assert_eq!(g.XmitLinkSpeed, 10_000_000_000, "fake device: 10000 Mb/s");
    assert_eq!(g.MaxMulticastListSize, 32);
    assert_eq!(g.IfType, 6);
    assert!(a.rss_caps.is_some(), "RSS capabilities with *RSS=1");
    assert!(a
        .pm_caps
        .is_some_and(|p| p.Flags == 0 && p.SupportedWoLPacketPatterns == 0));
    // The list NDIS got at initialisation is the one the OID answers.
    let list = h
        .oid(OidRequest::query(n::OID_GEN_SUPPORTED_LIST, 4096))
        .unwrap();
    let listed: Vec<u32> = list.data.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    assert_eq!(listed, a.supported_oids);
    // NDIS 6.85: NDIS_OFFLOAD revision 7, 216 bytes, RSC and USO both families.
    let caps = a.offload_hardware.expect("offload capabilities");
    assert_eq!(
        (caps.Header.Type, caps.Header.Revision, caps.Header.Size),
        (0xA7, 7, 216)
    );
    assert_eq!((caps.Rsc.IPv4Enabled, caps.Rsc.IPv6Enabled), (1, 1));
    assert_eq!(caps.UdpSegmentation.IPv4.MaxOffLoadSize, 536 * 64);
    let cur = a.offload_default.expect("default offload configuration");
    assert_eq!(cur.Header.Revision, 7);
    assert_eq!(cur.LsoV2.IPv6.MaxOffLoadSize, 63488);
    // The device is live and was told the bind's filters.
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    let tables = ctrl(&bus, CLASS_MAC, 0);
    let last = tables.last().expect("MAC table programmed");
    // 0 unicast entries, 2 multicast entries (the bind's list).
    assert_eq!(&last.data[..8], &[0, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(&last.data[8..14], &[0x01, 0x00, 0x5e, 0, 0, 1]);
    down(&mut h);
    assert_eq!(bus.device().status(), 0, "device reset at Halt");
}

#[test]
fn ndis_version_gates_the_offload_revision_rsc_and_uso() {
    let _serial = serial();
    for (v, rev, size, uso) in [
        (n::NdisVersion::V6_30, 3, 156, false),
        (n::NdisVersion::V6_82, 3, 156, false),
        (n::NdisVersion::V6_84, 6, 216, true),
        (n::NdisVersion::V6_85, 7, 216, true),
    ] {
        let cfg = EmuConfig {
            ndis_version: v,
            ..emu()
        };
        let (mut h, bus) = harness(FakeConfig::default(), &[], cfg);
        up(&mut h);
        let caps = h.attributes().offload_hardware.unwrap();
        assert_eq!(
            (caps.Header.Revision, caps.Header.Size),
            (rev, size),
            "{v:?}"
        );
        assert_eq!(caps.Rsc.IPv4Enabled, 1, "{v:?}: RSC from 6.30");
        assert_eq!(
            caps.UdpSegmentation.IPv4.MaxOffLoadSize != 0,
            uso,
            "{v:?}: USO from 6.83"
        );
        let host_uso = bus.device().driver_features().bits() & (1 << 56) != 0;
        assert_eq!(host_uso, uso, "{v:?}: HOST_USO acked only with USO");
        down(&mut h);
    }
}

#[test]
fn registry_keywords_shape_the_offloads_and_bad_values_fall_back_with_a_log_line() {
    let _serial = serial();
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[
            ("*RscIPv4", "0"),
            ("*UsoIPv6", "0"),
            ("*JumboPacket", "99999"),
            ("NetworkAddress", "02AABBCCDDEE"),
            ("*NumRssQueues", "nonsense"),
        ],
        emu(),
    );
    up(&mut h);
    let a = h.attributes();
    let cur = a.offload_default.unwrap();
    assert_eq!((cur.Rsc.IPv4Enabled, cur.Rsc.IPv6Enabled), (0, 1));
    assert_eq!(cur.UdpSegmentation.IPv6.MaxOffLoadSize, 0);
    assert_eq!(cur.UdpSegmentation.IPv4.MaxOffLoadSize, 536 * 64);
    let g = a.general.unwrap();
    assert_eq!(g.MtuSize, 1500, "out-of-range *JumboPacket: default 1514");
    assert!(logged(&h, "*JumboPacket"), "the bad value is logged");
    assert!(logged(&h, "*NumRssQueues"));
    // NetworkAddress: current address, programmed with CTRL_MAC_ADDR_SET.
    assert_eq!(
        &g.CurrentMacAddress[..6],
        &[2, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE]
    );
    assert_eq!(
        &g.PermanentMacAddress[..6],
        &[0x52, 0x54, 0, 0x12, 0x34, 0x56]
    );
    let set = ctrl(&bus, CLASS_MAC, 1);
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].data, vec![2, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE]);
    down(&mut h);
}

#[test]
fn a_universally_administered_network_address_is_refused() {
    let _serial = serial();
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[("NetworkAddress", "00AABBCCDDEE")],
        emu(),
    );
    up(&mut h);
    let g = h.attributes().general.unwrap();
    assert_eq!(
        &g.CurrentMacAddress[..6],
        &[0x52, 0x54, 0, 0x12, 0x34, 0x56]
    );
    assert!(ctrl(&bus, CLASS_MAC, 1).is_empty());
    assert!(logged(&h, "NetworkAddress"));
    down(&mut h);
}

#[test]
fn receive_features_follow_the_keywords_not_just_the_offer() {
    let _serial = serial();
    // Mergeable buffers on (default): host coalescing acked, 4 KiB pages.
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let f = bus.device().driver_features().bits();
    assert_eq!(
        f & (F_MRG_RXBUF | F_GUEST_TSO4 | F_GUEST_TSO6),
        F_MRG_RXBUF | F_GUEST_TSO4 | F_GUEST_TSO6
    );
    assert_eq!(
        f & F_RSC_EXT,
        F_RSC_EXT,
        "an RSC_EXT offer (QEMU guest_rsc_ext=on) is the host's opt-in: acked"
    );
    down(&mut h);
    // No mergeable buffers and RSC off: GUEST_TSO is not acked, so RX buffers stay MTU-sized (NetKVM
    // allocates 64 KiB whenever the host offers TSO, #861).
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[
            ("MergeableBuffers", "0"),
            ("*RscIPv4", "0"),
            ("*RscIPv6", "0"),
        ],
        emu(),
    );
    up(&mut h);
    let f = bus.device().driver_features().bits();
    assert_eq!(f & (F_MRG_RXBUF | F_GUEST_TSO4 | F_GUEST_TSO6), 0);
    assert_eq!(f & F_GUEST_CSUM, F_GUEST_CSUM);
    assert!(
        logged(&h, "RX buffers Single { bytes: 1530 }"),
        "{:?}",
        h.log()
    );
    down(&mut h);
}

#[test]
fn vlan_filtering_uses_one_command_not_4095() {
    let _serial = serial();
    // VlanID 0 (default): CTRL_VLAN is not negotiated, the device passes every VLAN, no command.
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    assert_eq!(bus.device().driver_features().bits() & F_CTRL_VLAN, 0);
    assert!(ctrl(&bus, CLASS_VLAN, 0).is_empty());
    down(&mut h);
    // VlanID 100 with priority tagging: VID 100 and VID 0 (priority-tagged frames).
    let (mut h, bus) = harness(FakeConfig::default(), &[("VlanID", "100")], emu());
    up(&mut h);
    assert_ne!(bus.device().driver_features().bits() & F_CTRL_VLAN, 0);
    let adds: Vec<Vec<u8>> = ctrl(&bus, CLASS_VLAN, 0)
        .into_iter()
        .map(|r| r.data)
        .collect();
    assert_eq!(adds.len(), 2, "{adds:?}");
    assert!(adds.contains(&100u16.to_le_bytes().to_vec()));
    assert!(adds.contains(&0u16.to_le_bytes().to_vec()));
    down(&mut h);
}

#[test]
fn queue_pairs_are_the_minimum_of_device_cpus_and_rss_queues_with_netkvm_vector_layout() {
    let _serial = serial();
    let cfg = FakeConfig {
        pairs: 4,
        ..FakeConfig::default()
    };
    // 2 CPUs (emulator default), 8 MSI-X vectors: 2 pairs, TX 2j / RX 2j+1 / config 4.
    let (mut h, bus) = harness(cfg.clone(), &[], emu());
    up(&mut h);
    let d = bus.device();
    assert_eq!(d.queue_vector(0), Some(1), "RX 0");
    assert_eq!(d.queue_vector(1), Some(0), "TX 0");
    assert_eq!(d.queue_vector(2), Some(3), "RX 1");
    assert_eq!(d.queue_vector(3), Some(2), "TX 1");
    // The control queue sits at 2 × max_virtqueue_pairs and is polled.
    assert_eq!(d.queue_vector(8), Some(0xFFFF));
    let caps = h.attributes().rss_caps.unwrap();
    assert_eq!(caps.NumberOfReceiveQueues, 2);
    down(&mut h);
    // *NumRssQueues=1: one pair.
    let (mut h, bus) = harness(cfg.clone(), &[("*NumRssQueues", "1")], emu());
    up(&mut h);
    assert!(
        bus.device().queue_size(2).is_none_or(|s| s == 0)
            || bus.device().queue_vector(2) == Some(0xFFFF)
    );
    assert!(logged(&h, "1 queue pair(s)"));
    down(&mut h);
}

#[test]
fn few_msix_messages_share_vectors_and_line_interrupts_still_work() {
    let _serial = serial();
    let cfg = FakeConfig {
        pairs: 4,
        msix_vectors: 3,
        ..FakeConfig::default()
    };
    let (mut h, bus) = harness(cfg, &[], emu());
    up(&mut h);
    let d = bus.device();
    // 3 messages, 2 pairs wanted: shared per pair, configuration on message 2.
    assert_eq!((d.queue_vector(0), d.queue_vector(1)), (Some(0), Some(0)));
    assert_eq!((d.queue_vector(2), d.queue_vector(3)), (Some(1), Some(1)));
    down(&mut h);
    let line = EmuConfig {
        msix: false,
        ..emu()
    };
    let (mut h, bus) = harness(FakeConfig::default(), &[], line);
    up(&mut h);
    assert!(logged(&h, "interrupt: 0 message(s); 1 queue pair(s)"));
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    down(&mut h);
}

#[test]
fn every_failed_allocation_during_initialize_unwinds_cleanly() {
    let _serial = serial();
    // Count the allocations of a good InitializeEx, then fail each one in turn: InitializeEx must fail
    // with an error status (or survive, if the allocation was optional) and leave nothing behind —
    // ndis-emu checks leaks when the driver unloads.
    let (mut h, _bus) = harness(FakeConfig::default(), &[], emu());
    h.load(netkvmrs::driver_entry).unwrap();
    h.ndis().fail.fail_nth(None);
    h.initialize().unwrap();
    let total = h.ndis().fail.allocations();
    h.halt().unwrap();
    h.unload().unwrap();
    assert!(total > 5, "only {total} allocations counted");
    let mut failed = 0;
    for nth in 0..total {
        let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
        h.load(netkvmrs::driver_entry).unwrap();
        h.ndis().fail.fail_nth(Some(nth));
        let r = h.initialize();
        assert!(h.ndis().fail.triggered(), "allocation {nth} not reached");
        h.ndis().fail.fail_nth(None);
        let init_failed = r.is_err();
        match r {
            Ok(()) => h.halt().unwrap(),
            Err(e) => {
                assert_eq!(bus.device().status() & DRIVER_OK, 0, "nth {nth}: {e:?}");
            }
        }
        h.unload().unwrap();
        if init_failed {
            failed += 1;
        }
    }
    // Most allocations are essential: their failure must fail InitializeEx (with everything released).
    assert!(
        failed * 2 > total,
        "{failed} of {total} injected failures failed InitializeEx"
    );
}

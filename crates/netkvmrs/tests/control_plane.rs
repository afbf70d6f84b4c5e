//! Run-time control plane through ndis-emu and the fake device: offload changes with their control
//! commands and indications, link changes, guest announce, power D3/D0, resets (requested by faults and by
//! NDIS), hostile control-queue replies, surprise removal.

mod common;

use std::time::Duration;

use common::*;
use ndis_emu::{EmuConfig, OidRequest, PowerState};
use ndis_sys as n;
use netkvm_virtio::fake::{CtrlBehavior, FakeConfig, UsedCorruption};

const PF: u32 = 0x1 | 0x2 | 0x8; // directed | multicast | broadcast

/// NDIS_OFFLOAD_PARAMETERS revision 3 (26 bytes) with RscIPv4 (offset 22) = `v`.
fn rsc_ipv4(v: u8) -> Vec<u8> {
    let mut b = vec![0x80, 3, 26, 0];
    b.resize(26, 0);
    b[22] = v;
    b
}

fn guest_offload_masks(bus: &ndis_emu::bus::fake::FakeBus) -> Vec<u64> {
    ctrl(bus, CLASS_GUEST_OFFLOADS, 0)
        .iter()
        .map(|r| u64::from_le_bytes(r.data[..8].try_into().unwrap()))
        .collect()
}

#[test]
fn rsc_off_at_run_time_switches_host_offloads_and_indicates_the_current_config() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let before = h.statuses().len();
    let r = h
        .oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, rsc_ipv4(1)))
        .unwrap();
    assert!(r.ok(), "{r:?}");
    // GUEST_CSUM | GUEST_TSO6: the host stops coalescing IPv4.
    assert_eq!(
        guest_offload_masks(&bus).last(),
        Some(&(F_GUEST_CSUM | F_GUEST_TSO6 | F_RSC_EXT))
    );
    let ind: Vec<_> = h.statuses()[before..]
        .iter()
        .filter(|s| s.code == n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG)
        .cloned()
        .collect();
    assert_eq!(ind.len(), 1);
    let b = &ind[0].buffer;
    assert_eq!(
        (b[0], b[1], u16::from_le_bytes([b[2], b[3]])),
        (0xA7, 7, 216)
    );
    assert_eq!(
        (b[144], b[145]),
        (0, 1),
        "Rsc.IPv4Enabled off, IPv6 still on"
    );
    // NDIS keeps the indicated configuration as the current one.
    assert_eq!(h.attributes().offload_default.unwrap().Rsc.IPv4Enabled, 0);
    // Back on.
    assert!(h
        .oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, rsc_ipv4(2)))
        .unwrap()
        .ok());
    assert_eq!(
        guest_offload_masks(&bus).last(),
        Some(&(F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_RSC_EXT))
    );
    down(&mut h);
}

#[test]
fn a_device_answering_err_fails_the_request_and_keeps_the_adapter() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.device().set_ctrl_reply(1); // VIRTIO_NET_ERR
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0x20))
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_FAILURE);
    let r = h
        .oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, rsc_ipv4(1)))
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_FAILURE);
    // Not removed, not reset, still answering, and the old filter is still the current one.
    assert_eq!(h.hang_checks_and_resets().1, 0);
    let cur = h
        .oid(OidRequest::query(n::OID_GEN_CURRENT_PACKET_FILTER, 4))
        .unwrap();
    assert_eq!(cur.u32(), Some(PF));
    bus.device().set_ctrl_reply(0);
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0x20))
        .unwrap();
    assert!(r.ok());
    down(&mut h);
}

#[test]
fn a_ring_protocol_violation_on_the_control_queue_resets_the_device_and_restores_its_state() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("VlanID", "7")], emu());
    up(&mut h);
    bus.device().clear_ctrl_log();
    // One-shot: the next used-ring entry (the command's completion) carries an id out of range.
    bus.device()
        .update_misbehavior(|m| m.used = Some(UsedCorruption::IdOutOfRange));
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0x20))
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_DEVICE_FAILED);
    // The driver asked NDIS for a reset; NDIS performs it from a worker.
    wait_for("the reset", Duration::from_secs(10), || {
        h.hang_checks_and_resets().1 >= 1
    });
    wait_for("DRIVER_OK after the reset", Duration::from_secs(10), || {
        bus.device().status() & DRIVER_OK != 0
    });
    wait_for("filters restored", Duration::from_secs(10), || {
        !ctrl(&bus, CLASS_MAC, 0).is_empty()
    });
    // The restored filter is the last one that succeeded (the failed 0x20 was never committed), the VLAN
    // filter is programmed again, the link is indicated.
    let modes = ctrl(&bus, CLASS_RX, 0);
    assert_eq!(modes.last().unwrap().data, vec![0], "not promiscuous");
    assert!(ctrl(&bus, CLASS_VLAN, 0)
        .iter()
        .any(|r| r.data == 7u16.to_le_bytes()));
    assert!(link_indications(&h).contains(&n::MediaConnectStateConnected));
    assert!(logged(&h, "reset: device re-initialised"));
    // Working again.
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0x20))
        .unwrap();
    assert!(r.ok(), "{r:?}");
    down(&mut h);
}

#[test]
fn ndis_reset_reinitialises_the_device_with_the_saved_state() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    assert!(h
        .oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, rsc_ipv4(1)))
        .unwrap()
        .ok());
    let features = bus.device().driver_features();
    bus.device().clear_ctrl_log();
    let addressing = h.reset().expect("reset");
    assert!(!addressing, "no addressing reset: the MAC does not change");
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    assert_eq!(
        bus.device().driver_features(),
        features,
        "same features renegotiated"
    );
    // RSC IPv4 stays off after the reset: the guest-offload mask is sent again.
    assert_eq!(
        guest_offload_masks(&bus),
        vec![F_GUEST_CSUM | F_GUEST_TSO6 | F_RSC_EXT]
    );
    let tables = ctrl(&bus, CLASS_MAC, 0);
    assert_eq!(
        &tables.last().unwrap().data[..8],
        &[0, 0, 0, 0, 2, 0, 0, 0],
        "multicast list restored"
    );
    down(&mut h);
}

#[test]
fn a_control_queue_that_never_answers_ends_in_a_hardware_error_not_a_crash() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.device()
        .update_misbehavior(|m| m.ctrl = CtrlBehavior::NeverComplete);
    let r = h
        .oid(OidRequest::set_u32(n::OID_GEN_CURRENT_PACKET_FILTER, 0x20))
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_DEVICE_FAILED);
    // The reset cannot restore the filters either: the adapter reports a hardware error and link down.
    wait_for("the failed reset", Duration::from_secs(20), || {
        h.hang_checks_and_resets().1 >= 1 && logged(&h, "reset failed")
    });
    wait_for("link down", Duration::from_secs(5), || {
        link_indications(&h).last() == Some(&n::MediaConnectStateDisconnected)
    });
    // OIDs are still answered; Halt still releases everything.
    let r = h
        .oid(OidRequest::query(n::OID_802_3_CURRENT_ADDRESS, 6))
        .unwrap();
    assert!(r.ok());
    bus.device()
        .update_misbehavior(|m| m.ctrl = CtrlBehavior::Normal);
    down(&mut h);
}

#[test]
fn needs_reset_is_reported_by_check_for_hang() {
    let _serial = serial();
    let cfg = EmuConfig {
        check_for_hang: Some(Duration::from_millis(50)),
        ..emu()
    };
    let (mut h, bus) = harness(FakeConfig::default(), &[], cfg);
    up(&mut h);
    // NEEDS_RESET on top of the live status. The fake keeps reporting it, so the reset itself fails
    // and the adapter ends in the hardware-error state — what matters here is that CheckForHang saw it.
    bus.device()
        .update_misbehavior(|m| m.status_override = Some(0x40 | 0x0F));
    wait_for("CheckForHang → reset", Duration::from_secs(10), || {
        h.hang_checks_and_resets().1 >= 1
    });
    assert!(logged(&h, "NeedsReset"), "{:?}", h.log());
    bus.device()
        .update_misbehavior(|m| m.status_override = None);
    down(&mut h);
}

#[test]
fn link_changes_are_indicated_and_guest_announce_is_acknowledged() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    // Addresses for the announcement (NETWORK_ADDRESS_LIST with one IPv4 address).
    let mut addrs = 1i32.to_le_bytes().to_vec();
    addrs.extend_from_slice(&2u16.to_le_bytes());
    addrs.extend_from_slice(&16u16.to_le_bytes());
    addrs.extend_from_slice(&2u16.to_le_bytes());
    addrs.extend_from_slice(&[0, 0, 0, 0, 10, 0, 0, 2]);
    addrs.extend_from_slice(&[0; 8]);
    assert!(h
        .oid(OidRequest::set(n::OID_GEN_NETWORK_LAYER_ADDRESSES, addrs))
        .unwrap()
        .ok());
    bus.device().set_link(false);
    wait_for("link down", Duration::from_secs(5), || {
        link_indications(&h).last() == Some(&n::MediaConnectStateDisconnected)
    });
    bus.device().set_link(true);
    wait_for("link up", Duration::from_secs(5), || {
        link_indications(&h).last() == Some(&n::MediaConnectStateConnected)
    });
    let up_ind = h
        .statuses()
        .into_iter()
        .rev()
        .find(|s| s.code == n::NDIS_STATUS_LINK_STATE)
        .unwrap();
    let speed = u64::from_le_bytes(up_ind.buffer[16..24].try_into().unwrap());
    assert_eq!(speed, 10_000_000_000);
    bus.device().request_announce();
    wait_for("ANNOUNCE_ACK", Duration::from_secs(5), || {
        !ctrl(&bus, CLASS_ANNOUNCE, 0).is_empty()
    });
    down(&mut h);
}

#[test]
fn d3_resets_the_device_and_d0_restores_it() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    assert!(h
        .oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, rsc_ipv4(1)))
        .unwrap()
        .ok());
    let r = h.set_power(PowerState::D3).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(bus.device().status(), 0, "device reset in D3");
    assert_eq!(
        link_indications(&h).last(),
        Some(&n::MediaConnectStateUnknown),
        "link unknown while powered down"
    );
    let hw = h
        .oid(OidRequest::query(n::OID_GEN_HARDWARE_STATUS, 4))
        .unwrap();
    assert_eq!(hw.u32(), Some(4), "NdisHardwareStatusNotReady");
    bus.device().clear_ctrl_log();
    let r = h.set_power(PowerState::D0).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    assert_eq!(
        guest_offload_masks(&bus),
        vec![F_GUEST_CSUM | F_GUEST_TSO6 | F_RSC_EXT],
        "RSC state restored"
    );
    assert!(!ctrl(&bus, CLASS_MAC, 0).is_empty(), "filters restored");
    assert_eq!(
        link_indications(&h).last(),
        Some(&n::MediaConnectStateConnected)
    );
    down(&mut h);
}

#[test]
fn surprise_removal_stops_touching_the_device_and_halt_still_releases_everything() {
    let _serial = serial();
    let (mut h, _bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    h.surprise_remove().expect("surprise removal");
    assert!(logged(&h, "surprise removal"));
    h.unload().expect("unload");
}

#[test]
fn a_device_refusing_features_ok_fails_initialize_cleanly() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    bus.device()
        .update_misbehavior(|m| m.refuse_features_ok = true);
    h.load(netkvmrs::driver_entry).unwrap();
    let e = h.initialize().expect_err("must fail");
    assert!(
        format!("{e:?}").contains(&format!("{}", n::NDIS_STATUS_DEVICE_FAILED)),
        "{e:?}"
    );
    assert_ne!(
        bus.device().status() & 0x80,
        0,
        "driver marked the device FAILED"
    );
    h.unload().unwrap();
}

#[test]
fn statistics_and_rsc_statistics_are_answered_through_ndis() {
    let _serial = serial();
    let (mut h, _bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let r = h
        .oid(OidRequest::query(
            n::OID_GEN_STATISTICS,
            core::mem::size_of::<n::NDIS_STATISTICS_INFO>() as u32,
        ))
        .unwrap();
    assert_eq!((r.status, r.bytes_written), (0, 152));
    let r = h
        .oid(OidRequest::query(n::OID_TCP_RSC_STATISTICS, 40))
        .unwrap();
    assert_eq!((r.status, r.bytes_written), (0, 40));
    let r = h.oid(OidRequest::query(n::OID_GEN_RCV_OK, 4)).unwrap();
    assert_eq!((r.status, r.bytes_written, r.bytes_needed), (0, 4, 8));
    down(&mut h);
}

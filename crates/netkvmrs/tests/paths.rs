//! Less travelled control paths: pended and cancelled OID requests, sends while paused, ShutdownEx,
//! VLAN changes that need renegotiation, configuration interrupts on shared vectors and INTx,
//! REG_DWORD registry values.

mod common;

use std::time::Duration;

use common::*;
use ndis_emu::{EmuConfig, InterruptMode, NblSpec, OidRequest};
use ndis_sys as n;
use netkvm_virtio::fake::{CtrlBehavior, FakeConfig};

/// The control queue index of a device with `pairs` pairs.
fn ctrl_queue(pairs: u16) -> u16 {
    pairs * 2
}

/// Makes the worker hold the control lock: the control queue stops answering, the device asks for a
/// guest announcement, and this waits until the worker sent ANNOUNCE_ACK (it now polls for up to
/// 0.5 s, holding the lock). Returns once the command is on the ring.
fn park_worker(bus: &ndis_emu::bus::fake::FakeBus, pairs: u16) {
    let d = bus.device();
    d.update_misbehavior(|m| m.ctrl = CtrlBehavior::NeverComplete);
    let before = d.notifications(ctrl_queue(pairs));
    d.request_announce();
    wait_for("ANNOUNCE_ACK on the ring", Duration::from_secs(2), || {
        d.notifications(ctrl_queue(pairs)) > before
    });
}

/// Lets the parked command complete and the device answer normally again.
fn release_worker(bus: &ndis_emu::bus::fake::FakeBus) {
    let d = bus.device();
    d.update_misbehavior(|m| m.ctrl = CtrlBehavior::Normal);
    d.process_ctrl().expect("process_ctrl");
}

#[test]
fn an_oid_arriving_while_the_worker_holds_the_device_pends_and_completes_from_the_worker() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let pairs = pairs_in_use(&h);
    park_worker(&bus, pairs);
    let t = h
        .oid_start(OidRequest::query(n::OID_GEN_CURRENT_PACKET_FILTER, 4))
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    release_worker(&bus);
    let r = h.oid_wait(t).unwrap();
    assert!(r.pended, "the request found the control lock taken: {r:?}");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.bytes_written, 4);
    wait_for("announce acknowledged", Duration::from_secs(2), || {
        !ctrl(&bus, CLASS_ANNOUNCE, 0).is_empty()
    });
    assert_eq!(h.hang_checks_and_resets().1, 0, "no reset");
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    down(&mut h);
}

#[test]
fn a_pended_oid_can_be_cancelled() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let pairs = pairs_in_use(&h);
    park_worker(&bus, pairs);
    let t = h
        .oid_start(OidRequest::set_u32(
            n::OID_GEN_CURRENT_PACKET_FILTER,
            n::NDIS_PACKET_TYPE_DIRECTED | n::NDIS_PACKET_TYPE_BROADCAST,
        ))
        .unwrap();
    h.oid_cancel(t).unwrap();
    let r = h.oid_wait(t).unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_REQUEST_ABORTED, "{r:?}");
    release_worker(&bus);
    // The next request goes through normally.
    let r = h
        .oid(OidRequest::query(n::OID_GEN_CURRENT_PACKET_FILTER, 4))
        .unwrap();
    assert!(r.ok(), "{r:?}");
    down(&mut h);
}

/// Queue pairs the driver brought up (from its log line).
fn pairs_in_use(h: &ndis_emu::Harness) -> u16 {
    for l in h.log() {
        if let Some(i) = l.text.find(" queue pair(s)") {
            let head = &l.text[..i];
            let num: String = head
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Ok(p) = num.parse() {
                return p;
            }
        }
    }
    panic!("no queue pair log line: {:?}", h.log());
}

#[test]
fn sends_while_paused_complete_with_status_paused() {
    let _serial = serial();
    let (mut h, _bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    h.pause().unwrap();
    let frame = [0xffu8; 60];
    let nbls = (0..3)
        .map(|_| h.nbl(&NblSpec::frames(&[&frame])).unwrap())
        .collect();
    h.send(nbls).unwrap();
    let done = h.wait_completions(3, Duration::from_secs(2));
    assert_eq!(done.len(), 3);
    assert!(
        done.iter().all(|c| c.status == n::NDIS_STATUS_PAUSED),
        "{:?}",
        done.iter().map(|c| c.status).collect::<Vec<_>>()
    );
    assert_eq!(h.outstanding_sends(), 0);
    down(&mut h);
}

#[test]
fn shutdown_stops_the_device_with_one_register_write() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    assert_eq!(bus.device().status() & DRIVER_OK, DRIVER_OK);
    h.shutdown(n::NdisShutdownPowerOff).unwrap();
    assert_eq!(bus.device().status(), 0, "device reset by ShutdownEx");
    // Nothing is called after ShutdownEx (the machine goes down).
}

#[test]
fn clearing_the_vlan_id_renegotiates_without_ctrl_vlan_and_setting_one_needs_no_command() {
    let _serial = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("VlanID", "100")], emu());
    up(&mut h);
    assert_ne!(bus.device().driver_features().bits() & F_CTRL_VLAN, 0);
    let r = h.oid(OidRequest::set_u32(n::OID_GEN_VLAN_ID, 0)).unwrap();
    assert!(r.ok(), "{r:?}");
    wait_for(
        "renegotiation without CTRL_VLAN",
        Duration::from_secs(5),
        || {
            let d = bus.device();
            d.status() & DRIVER_OK == DRIVER_OK && d.driver_features().bits() & F_CTRL_VLAN == 0
        },
    );
    assert!(h.hang_checks_and_resets().1 >= 1, "through an NDIS reset");
    let q = h.oid(OidRequest::query(n::OID_GEN_VLAN_ID, 4)).unwrap();
    assert_eq!(q.u32(), Some(0));
    // A new id now: no CTRL_VLAN, so no command; filtered in software.
    bus.device().clear_ctrl_log();
    let r = h.oid(OidRequest::set_u32(n::OID_GEN_VLAN_ID, 7)).unwrap();
    assert!(r.ok(), "{r:?}");
    assert!(ctrl(&bus, CLASS_VLAN, 0).is_empty());
    let q = h.oid(OidRequest::query(n::OID_GEN_VLAN_ID, 4)).unwrap();
    assert_eq!(q.u32(), Some(7));
    down(&mut h);
}

fn link_flap(h: &mut ndis_emu::Harness, bus: &ndis_emu::bus::fake::FakeBus) {
    bus.device().set_link(false);
    wait_for("link down", Duration::from_secs(5), || {
        link_indications(h).last() == Some(&n::MediaConnectStateDisconnected)
    });
    bus.device().set_link(true);
    wait_for("link up", Duration::from_secs(5), || {
        link_indications(h).last() == Some(&n::MediaConnectStateConnected)
    });
}

#[test]
fn link_changes_arrive_on_a_shared_vector_and_on_intx() {
    let _serial = serial();
    // One MSI-X message: queues and configuration share it.
    let cfg = FakeConfig {
        msix_vectors: 1,
        ..FakeConfig::default()
    };
    let (mut h, bus) = harness(cfg, &[], emu());
    up(&mut h);
    link_flap(&mut h, &bus);
    down(&mut h);
    // Line interrupt: the ISR status byte says which. The fake device raises nothing without an MSI-X
    // vector, so the emulator polls the line (the ISR reads the ISR status byte each time).
    let line = EmuConfig {
        msix: false,
        interrupt_mode: InterruptMode::Polling(Duration::from_millis(1)),
        ..emu()
    };
    let (mut h, bus) = harness(FakeConfig::default(), &[], line);
    up(&mut h);
    link_flap(&mut h, &bus);
    down(&mut h);
}

#[test]
fn registry_values_may_be_reg_dword() {
    let _serial = serial();
    let cfg = FakeConfig {
        mtu: 9000,
        ..FakeConfig::default()
    };
    let (mut h, _bus) = harness(cfg, &[], emu());
    h.registry()
        .set("*JumboPacket", ndis_emu::RegValue::Dword(4014));
    up(&mut h);
    let r = h
        .oid(OidRequest::query(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4))
        .unwrap();
    assert_eq!(r.u32(), Some(4000));
    down(&mut h);
}

//! Run-time offload changes (issue 7 §4, sixth bullet): `*RscIPv4=0` / `*UsoIPv4=0` through the
//! registry file and an adapter restart (what `Set-NetAdapterAdvancedProperty` does), and
//! `OID_TCP_OFFLOAD_PARAMETERS` without a restart (what `Disable-NetAdapterRsc -NoRestart` …
//! and TCP/IP do). The device follows (its guest offloads, seen on the host TAP where QEMU
//! applies them), the offload OIDs answer accordingly, and the traffic shows it.

use std::time::Duration;

use ndis_emu::RegValue;
use ndis_sys as n;
use netkvm_e2e::admin::{AdminView, RscFailure};
use netkvm_e2e::traffic::{tcp_transfer, udp_transfer, UdpSpec};
use netkvm_e2e::{E2e, Opts};

/// Host→guest TCP; returns the SCUs indicated during it.
fn rx_scus(e: &E2e, port: u16) -> u64 {
    let r0 = e.standin().rx_stats();
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        port,
        16 << 20,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(r.intact(), "{r:?}");
    e.standin().rx_stats().since(&r0).scus
}

/// Guest→host UDP_SEGMENT sends; returns the USO NBLs sent during it.
fn tx_uso(e: &E2e, port: u16) -> u64 {
    let t0 = e.standin().tx_stats();
    let r = udp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        port,
        UdpSpec::count(1472, 4400).gso(22),
    )
    .unwrap();
    assert_eq!(r.received, 4400, "{r:?}");
    e.standin().tx_stats().since(&t0).uso
}

/// Guest→host TCP; returns the LSO NBLs sent during it.
fn tx_lso(e: &E2e, port: u16) -> u64 {
    let t0 = e.standin().tx_stats();
    let r = tcp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        port,
        16 << 20,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(r.intact(), "{r:?}");
    let d = e.standin().tx_stats().since(&t0);
    d.lso_v2 + d.lso_v1
}

fn params() -> n::NDIS_OFFLOAD_PARAMETERS {
    n::NDIS_OFFLOAD_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NDIS_OFFLOAD_PARAMETERS_REVISION_5,
            n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5,
        ),
        ..Default::default()
    }
}

#[test]
fn rsc_keyword_off_and_restart_turns_rsc_off_in_the_device_and_the_offload_oids() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    assert!(e.rx_offloads().unwrap().rsc4, "RSC on by default");
    assert!(
        e.host_tap_feature("tx-tcp-segmentation").unwrap(),
        "device takes host GSO"
    );
    assert!(rx_scus(&e, 8001) > 0, "SCUs while RSC is on");
    e.set_keyword("*RscIPv4", "0").unwrap();
    assert!(
        !e.rx_offloads().unwrap().rsc4,
        "current config: RSC IPv4 off"
    );
    let v = AdminView::collect(&e).unwrap();
    assert_eq!(v.rsc(false).failure, RscFailure::NicPropertyDisabled);
    assert!(
        !e.host_tap_feature("tx-tcp-segmentation").unwrap(),
        "the device no longer accepts TSO frames from the host (guest offloads changed)"
    );
    assert_eq!(rx_scus(&e, 8002), 0, "no SCU after the restart");
    e.finish().unwrap().assert_clean();
}

#[test]
fn uso_keyword_off_and_restart_reports_no_uso_and_sends_none() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    assert!(
        AdminView::collect(&e).unwrap().uso()[0].0,
        "USO IPv4 on by default"
    );
    assert!(tx_uso(&e, 8011) > 0);
    e.set_keyword("*UsoIPv4", "0").unwrap();
    let v = AdminView::collect(&e).unwrap();
    assert!(!v.uso()[0].0, "current config: USO IPv4 off");
    assert_eq!(tx_uso(&e, 8012), 0, "no USO sends after the restart");
    e.finish().unwrap().assert_clean();
}

#[test]
fn offload_parameters_oid_switches_rsc_without_a_restart() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    assert!(rx_scus(&e, 8021) > 0);
    let before = e.statuses().unwrap().len();
    let mut p = params();
    p.RscIPv4 = n::NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
    let r = e.set_offload_parameters(&p).unwrap();
    assert!(r.ok(), "OID_TCP_OFFLOAD_PARAMETERS: {:#x}", r.status);
    assert_eq!(
        e.state().unwrap(),
        ndis_emu::AdapterState::Running,
        "no restart"
    );
    let ind = e
        .wait_status(
            n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
            before,
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(
        ind.is_some(),
        "TASK_OFFLOAD_CURRENT_CONFIG indicated (spec §1.2)"
    );
    assert!(!e.rx_offloads().unwrap().rsc4);
    assert_eq!(
        e.keyword("*RscIPv4").unwrap(),
        Some(RegValue::sz("0")),
        "NDIS wrote the keyword"
    );
    assert!(!e.host_tap_feature("tx-tcp-segmentation").unwrap());
    assert_eq!(rx_scus(&e, 8022), 0, "no SCU while disabled");
    p.RscIPv4 = n::NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
    assert!(e.set_offload_parameters(&p).unwrap().ok());
    assert!(e.rx_offloads().unwrap().rsc4);
    assert!(e.host_tap_feature("tx-tcp-segmentation").unwrap());
    assert!(rx_scus(&e, 8023) > 0, "SCUs again");
    e.finish().unwrap().assert_clean();
}

#[test]
fn offload_parameters_oid_switches_lso_and_uso_without_a_restart() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    assert!(tx_lso(&e, 8031) > 0);
    assert!(tx_uso(&e, 8032) > 0);
    let mut p = params();
    p.LsoV2IPv4 = n::NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED;
    p.LsoV1 = n::NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED;
    p.UdpSegmentationIPv4 = n::NDIS_OFFLOAD_PARAMETERS_USO_DISABLED;
    let r = e.set_offload_parameters(&p).unwrap();
    assert!(r.ok(), "{:#x}", r.status);
    let v = AdminView::collect(&e).unwrap();
    assert!(
        !v.lso()[1].0 && !v.uso()[0].0,
        "LSO/USO IPv4 off in the current config"
    );
    assert_eq!(tx_lso(&e, 8033), 0, "no LSO sends");
    assert_eq!(tx_uso(&e, 8034), 0, "no USO sends");
    p.LsoV2IPv4 = n::NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
    p.LsoV1 = n::NDIS_OFFLOAD_PARAMETERS_NO_CHANGE;
    p.UdpSegmentationIPv4 = n::NDIS_OFFLOAD_PARAMETERS_USO_ENABLED;
    assert!(e.set_offload_parameters(&p).unwrap().ok());
    assert!(tx_lso(&e, 8035) > 0 && tx_uso(&e, 8036) > 0, "back on");
    e.finish().unwrap().assert_clean();
}

#[test]
fn offload_parameters_written_by_ndis_survive_an_adapter_restart() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let mut p = params();
    p.RscIPv4 = n::NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
    // The raw OID (no help from the bench): NDIS itself must persist what it rewrote.
    let mut bytes = ndis_emu::oid::struct_bytes(&p);
    bytes.truncate(usize::from(p.Header.Size));
    let r = e
        .oid(ndis_emu::OidRequest::set(
            n::OID_TCP_OFFLOAD_PARAMETERS,
            bytes,
        ))
        .unwrap();
    assert!(r.ok(), "{:#x}", r.status);
    e.reinitialize().unwrap();
    assert!(
        !e.rx_offloads().unwrap().rsc4,
        "NDIS rewrote *RscIPv4=0 in the registry: the restarted adapter reads it"
    );
    e.finish().unwrap().assert_clean();
}

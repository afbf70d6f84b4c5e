//! OID requests: synchronous and pending completion, the checks on what the driver writes back,
//! one request at a time, cancellation, and NDIS's registry update for
//! OID_TCP_OFFLOAD_PARAMETERS.

mod common;

use std::time::{Duration, Instant};

use common::{driver, fake, registry, Cfg};
use ndis_emu::{Harness, Kind, LifecycleError, OidPath, OidRequest, RegValue};
use ndis_sys as n;

#[test]
fn a_query_answered_synchronously_returns_the_data_and_byte_counts() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let r = h.oid_query(n::OID_802_3_CURRENT_ADDRESS, 64).unwrap();
    assert!(r.ok() && !r.pended);
    assert_eq!((r.bytes_written, r.data.clone()), (6, common::MAC.to_vec()));
    let r = h.oid_query(n::OID_802_3_CURRENT_ADDRESS, 4).unwrap();
    assert_eq!(
        (r.status, r.bytes_needed),
        (n::NDIS_STATUS_BUFFER_TOO_SHORT, 6)
    );
    let r = h
        .oid_set(n::OID_GEN_CURRENT_PACKET_FILTER, &[1, 0])
        .unwrap();
    assert_eq!(
        (r.status, r.bytes_needed),
        (n::NDIS_STATUS_INVALID_LENGTH, 4)
    );
    let r = h.oid_query(0x0DEA_DBEE, 4).unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_NOT_SUPPORTED);
    assert!(h.take_violations().is_empty());
}

#[test]
fn a_pending_request_completes_through_ndism_oid_request_complete() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_pending = true;
    let t = Instant::now();
    let r = h.oid_query(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4).unwrap();
    assert!(r.pended && r.ok());
    assert_eq!(r.u32(), Some(1500));
    assert!(
        t.elapsed() >= Duration::from_millis(10),
        "waited for the completion"
    );
}

#[test]
fn ndis_sends_one_request_at_a_time() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_pending = true;
    s.oids.lock().unwrap().clear();
    let t1 = h
        .oid_start(OidRequest::query(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4))
        .unwrap();
    // The first is pending in the driver (completes after ~10 ms); the second is only issued
    // after that completion.
    let start = Instant::now();
    let t2 = h
        .oid_start(OidRequest::query(n::OID_802_3_CURRENT_ADDRESS, 6))
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(5),
        "second request waited for the first"
    );
    assert!(h.oid_wait(t1).unwrap().ok());
    assert!(h.oid_wait(t2).unwrap().ok());
    assert_eq!(s.oids.lock().unwrap().len(), 2);
}

#[test]
fn cancel_reaches_the_driver_for_a_pending_request() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_pending = true;
    let t = h
        .oid_start(OidRequest::query(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4))
        .unwrap();
    h.oid_cancel(t).unwrap();
    assert!(s.events().contains(&"CancelOid".to_string()));
    // The test driver completes anyway: a legal outcome of a cancel race.
    assert!(h.oid_wait(t).unwrap().ok());
}

#[test]
fn bytes_needed_not_larger_than_the_buffer_is_a_violation() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_bad_needed = true;
    let r = h.oid_query(n::OID_802_3_CURRENT_ADDRESS, 2).unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_BUFFER_TOO_SHORT);
    let v = h.expect_violation(Kind::Oid);
    assert!(v.message.contains("BytesNeeded 0"), "{v}");
}

#[test]
fn writing_past_the_information_buffer_is_caught_by_the_canary() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_overrun = true;
    let r = h.oid_query(n::OID_802_3_CURRENT_ADDRESS, 6).unwrap();
    assert!(r.ok());
    let v = h.expect_violation(Kind::Oid);
    assert!(v.message.contains("past the end"), "{v}");
}

#[test]
fn requests_need_an_initialised_adapter() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    assert!(matches!(
        h.oid_query(n::OID_GEN_SUPPORTED_LIST, 64),
        Err(LifecycleError::WrongState(_))
    ));
}

fn offload_params(rsc4: u8, lso4: u8, tcp4: u8, flags: u32) -> Vec<u8> {
    let p = n::NDIS_OFFLOAD_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NDIS_OFFLOAD_PARAMETERS_REVISION_5,
            n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5,
        ),
        TCPIPv4Checksum: tcp4,
        LsoV2IPv4: lso4,
        RscIPv4: rsc4,
        Flags: flags,
        ..Default::default()
    };
    let mut v = ndis_emu::oid::struct_bytes(&p);
    v.truncate(usize::from(n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5));
    v
}

#[test]
fn offload_parameters_rewrite_the_standardized_keywords_unless_told_not_to() {
    let (entry, _s) = driver(Cfg::default());
    let mut reg = registry();
    reg.set("*RscIPv4", RegValue::sz("1"));
    reg.set("*TCPChecksumOffloadIPv4", RegValue::sz("3"));
    let (mut h, _bus) = Harness::fake(fake(), reg);
    h.up(entry).unwrap();
    // RSC off, LSOv2 IPv4 off, TCP/IPv4 checksum Tx only; everything else "no change".
    let r = h
        .oid_set(n::OID_TCP_OFFLOAD_PARAMETERS, &offload_params(1, 1, 2, 0))
        .unwrap();
    assert!(r.ok());
    {
        let reg = h.registry();
        assert_eq!(reg.get("*RscIPv4"), Some(&RegValue::sz("0")));
        assert_eq!(reg.get("*LsoV2IPv4"), Some(&RegValue::sz("0")));
        assert_eq!(reg.get("*TCPChecksumOffloadIPv4"), Some(&RegValue::sz("1")));
        assert_eq!(
            reg.get("*UsoIPv4"),
            None,
            "no change leaves the keyword alone"
        );
    }
    h.oid_set(
        n::OID_TCP_OFFLOAD_PARAMETERS,
        &offload_params(2, 0, 0, n::NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE),
    )
    .unwrap();
    assert_eq!(
        h.registry().get("*RscIPv4"),
        Some(&RegValue::sz("0")),
        "SKIP_REGISTRY_UPDATE"
    );
}

fn direct_cfg() -> Cfg {
    Cfg {
        chars_revision: n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3,
        direct_oids: true,
        ..Default::default()
    }
}

#[test]
fn a_method_request_passes_input_and_returns_output_in_the_same_buffer() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let r = h
        .oid(OidRequest::method(
            common::OID_TEST_REVERSE,
            7,
            vec![1, 2, 3, 4, 5],
            16,
        ))
        .unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!((r.bytes_read, r.bytes_written), (5, 5));
    assert_eq!(r.data, vec![5, 4, 3, 2, 1]);
    // Output capacity below the input: BUFFER_TOO_SHORT with BytesNeeded. The buffer is
    // max(input, output) long, so this is the driver's own rule, not an overrun.
    let r = h
        .oid(OidRequest::method(
            common::OID_TEST_REVERSE,
            7,
            vec![9; 8],
            4,
        ))
        .unwrap();
    assert_eq!(
        (r.status, r.bytes_needed),
        (n::NDIS_STATUS_BUFFER_TOO_SHORT, 8)
    );
    let r = h
        .oid(OidRequest::method(common::OID_TEST_REVERSE, 8, vec![1], 4))
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_INVALID_PARAMETER);
    assert!(h.take_violations().is_empty());
}

#[test]
fn direct_and_synchronous_requests_reach_their_own_handlers() {
    let (entry, s) = driver(direct_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let r = h
        .oid_via(
            OidRequest::query(n::OID_802_3_CURRENT_ADDRESS, 6),
            OidPath::Direct,
        )
        .unwrap();
    assert_eq!(r.data, common::MAC.to_vec());
    let r = h
        .oid_via(
            OidRequest::query(n::OID_GEN_LINK_SPEED, 4),
            OidPath::Synchronous,
        )
        .unwrap();
    assert_eq!(r.u32(), Some(100_000_000));
    let ev = s.events.lock().unwrap().clone();
    assert!(ev
        .iter()
        .any(|e| e == &format!("direct {:#x}", n::OID_802_3_CURRENT_ADDRESS)));
    assert!(ev
        .iter()
        .any(|e| e == &format!("synchronous {:#x}", n::OID_GEN_LINK_SPEED)));
    // A pending Direct request completes through NdisMDirectOidRequestComplete.
    s.cfg.lock().unwrap().oid_pending = true;
    let r = h
        .oid_via(
            OidRequest::query(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4),
            OidPath::Direct,
        )
        .unwrap();
    assert!(r.pended && r.ok());
    assert!(h.take_violations().is_empty());
}

#[test]
fn a_driver_without_direct_handlers_refuses_the_direct_path() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    assert!(matches!(
        h.oid_via(OidRequest::query(n::OID_GEN_LINK_SPEED, 4), OidPath::Direct),
        Err(LifecycleError::Refused(_))
    ));
}

#[test]
fn a_synchronous_request_that_pends_is_a_violation() {
    let (entry, s) = driver(direct_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    s.cfg.lock().unwrap().oid_pending = true;
    let r = h
        .oid_via(
            OidRequest::query(n::OID_GEN_LINK_SPEED, 4),
            OidPath::Synchronous,
        )
        .unwrap();
    assert_eq!(r.status, n::NDIS_STATUS_FAILURE);
    assert!(h.expect_violation(Kind::Oid).message.contains("PENDING"));
}

#[test]
fn completing_a_direct_request_with_the_normal_function_is_a_violation() {
    let (entry, s) = driver(Cfg {
        oid_pending: true,
        direct_wrong_completion: true,
        ..direct_cfg()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    // The bind sequence pends too (Normal path, completed correctly).
    h.up(entry).unwrap();
    let t = Instant::now();
    let r = h
        .oid_via(OidRequest::query(n::OID_GEN_LINK_SPEED, 4), OidPath::Direct)
        .unwrap();
    assert!(r.ok());
    assert!(t.elapsed() < Duration::from_secs(5), "not left waiting");
    assert!(h
        .expect_violation(Kind::Oid)
        .message
        .contains("wrong completion function"));
    let _ = s;
}

//! Send / receive / return ownership rules and scatter/gather DMA, with the loopback test
//! miniport on the fake device.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{driver, fake, registry, Cfg, SendMode};
use ndis_emu::{
    EmuConfig, Harness, Kind, NbSpec, NblSpec, ReturnPolicy, RxNbl, RxView, SendIrql, SendOpts,
};
use ndis_sys as n;

const T: Duration = Duration::from_secs(5);

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn loopback_cfg() -> Cfg {
    Cfg {
        rx_pool: true,
        loopback: true,
        ..Default::default()
    }
}

#[test]
fn loopback_frames_come_back_as_receives_and_are_returned() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(60 + i * 100, i as u8)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let nbl = h.nbl(&NblSpec::frames(&refs)).unwrap();
    h.send(vec![nbl]).unwrap();
    assert_eq!(h.wait_completions(1, T).len(), 1);
    let mut got = Vec::new();
    while got.len() < 3 {
        let r = h.recv(T).expect("receive");
        assert_eq!(
            r.receive_flags & n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
            n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
        );
        assert_eq!(r.irql, n::DISPATCH_LEVEL);
        got.extend(r.frames);
    }
    assert_eq!(got, frames);
    // The deferred returner gives them back.
    let start = std::time::Instant::now();
    while s.returned.load(Ordering::SeqCst) < 3 && start.elapsed() < T {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(s.returned.load(Ordering::SeqCst), 3);
    assert_eq!(h.outstanding_receives(), 0);
    let st = h.datapath_stats();
    assert_eq!(
        (st.sent, st.completed, st.indicated, st.returned),
        (1, 1, 3, 3)
    );
}

#[test]
fn receive_flags_resources_means_no_return_call() {
    let (entry, s) = driver(Cfg {
        loopback_resources: true,
        ..loopback_cfg()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(100, 1)])).unwrap();
    h.send(vec![nbl]).unwrap();
    let r = h.recv(T).unwrap();
    assert_ne!(r.receive_flags & n::NDIS_RECEIVE_FLAGS_RESOURCES, 0);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        s.returned.load(Ordering::SeqCst),
        0,
        "RESOURCES NBLs are not returned"
    );
    assert_eq!(h.outstanding_receives(), 0);
}

#[test]
fn pause_waits_for_receives_the_protocol_still_holds() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    h.set_manual_return(true);
    let nbl = h
        .nbl(&NblSpec::frames(&[&frame(80, 3), &frame(90, 4)]))
        .unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    assert!(h.recv(T).is_some() && h.recv(T).is_some());
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(h.outstanding_receives(), 2, "manual mode keeps them");
    assert_eq!(s.returned.load(Ordering::SeqCst), 0);
    // Pausing makes the protocol return them; the driver pends the pause until then.
    h.pause().unwrap();
    assert_eq!(s.returned.load(Ordering::SeqCst), 2);
    assert!(s.events().contains(&"PauseComplete".to_string()));
    assert!(h.take_violations().is_empty());
}

#[test]
fn pause_completed_with_receives_outstanding_is_a_violation() {
    let (entry, _s) = driver(Cfg {
        pause_ignores_outstanding: true,
        ..loopback_cfg()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.set_manual_return(true);
    let nbl = h.nbl(&NblSpec::frames(&[&frame(80, 3)])).unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    h.recv(T).unwrap();
    h.pause().unwrap();
    let v = h.expect_violation(Kind::PauseIncomplete);
    assert!(v.message.contains("not yet returned"), "{v}");
    // The protocol's return still arrives (late); then Halt is clean.
    let start = std::time::Instant::now();
    while h.outstanding_receives() != 0 && start.elapsed() < T {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(h.outstanding_receives(), 0);
}

#[test]
fn pause_completed_with_sends_outstanding_is_a_violation() {
    let (entry, s) = driver(Cfg {
        send_mode: SendMode::Hold,
        pause_ignores_outstanding: true,
        ..Default::default()
    });
    // The driver completes held sends at pause (PAUSED) before returning: clean.
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    h.send(vec![nbl]).unwrap();
    assert_eq!(h.outstanding_sends(), 1);
    h.pause().unwrap();
    assert!(h.take_violations().is_empty());
    assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_PAUSED);
    // Now one that never completes: the pause check fires.
    h.restart().unwrap();
    s.cfg.lock().unwrap().send_mode = SendMode::Never;
    h.quiet(true);
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    h.send(vec![nbl]).unwrap();
    h.pause().unwrap();
    let v = h.expect_violation(Kind::PauseIncomplete);
    assert!(v.message.contains("1 send NBL"), "{v}");
    h.halt().unwrap();
    let v = h.expect_violation(Kind::SendCompletion);
    assert!(v.message.contains("never completed"), "{v}");
}

#[test]
fn sends_while_paused_must_complete_with_ndis_status_paused() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.pause().unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    h.send(vec![nbl]).unwrap();
    assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_PAUSED);
    assert!(h.take_violations().is_empty());
    // A driver that ignores the pause is caught.
    s.cfg.lock().unwrap().send_mode = SendMode::IgnorePause;
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    let v = h.expect_violation(Kind::SendStatus);
    assert!(v.message.contains("not NDIS_STATUS_PAUSED"), "{v}");
}

#[test]
fn an_nbl_completed_twice_is_detected() {
    let (entry, _s) = driver(Cfg {
        send_mode: SendMode::Twice,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    h.send(vec![nbl]).unwrap();
    let v = h.expect_violation(Kind::SendCompletion);
    assert!(v.message.contains("completed twice"), "{v}");
}

#[test]
fn completing_an_nbl_that_was_never_sent_is_detected() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    // SAFETY: the adapter handle and an NBL the protocol never sent; at PASSIVE_LEVEL.
    unsafe { n::NdisMSendNetBufferListsComplete(s.adapter(), nbl.as_ptr(), 0) };
    let v = h.expect_violation(Kind::SendCompletion);
    assert!(v.message.contains("never sent"), "{v}");
}

#[test]
fn dispatch_flag_on_a_passive_completion_is_detected() {
    let (entry, _s) = driver(Cfg::default());
    let emu = EmuConfig {
        send_irql: SendIrql::Passive,
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.quiet(true);
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    // The test driver completes with the flag it got; pretend the send came at DISPATCH
    // while calling at PASSIVE: the flags lie.
    h.send_with(
        vec![nbl],
        SendOpts {
            flags: 0,
            irql: Some(SendIrql::Passive),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(h.take_violations().is_empty(), "consistent flags are fine");
    // SAFETY: completing our own never-sent NBL at PASSIVE with the DISPATCH flag: two bugs.
    let nbl = h.nbl(&NblSpec::frames(&[&frame(60, 0)])).unwrap();
    // SAFETY: as above.
    unsafe {
        n::NdisMSendNetBufferListsComplete(
            _s.adapter(),
            nbl.as_ptr(),
            n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
        )
    };
    let kinds: Vec<Kind> = h.take_violations().iter().map(|v| v.kind).collect();
    assert!(kinds.contains(&Kind::IrqlFlag), "{kinds:?}");
}

#[test]
fn an_indication_while_paused_is_a_violation() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.pause().unwrap();
    let pool = s.rx_pool.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    // SAFETY: the driver's pool; NDIS allocates 64 data bytes.
    let nbl = unsafe {
        n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, 64)
    };
    // SAFETY: our NBL.
    unsafe { (*nbl).SourceHandle = s.adapter() };
    // SAFETY: the adapter and the NBL, at PASSIVE_LEVEL with flags 0, RESOURCES so it stays ours.
    unsafe {
        n::NdisMIndicateReceiveNetBufferLists(
            s.adapter(),
            nbl,
            0,
            1,
            n::NDIS_RECEIVE_FLAGS_RESOURCES,
        )
    };
    let v = h.expect_violation(Kind::Receive);
    assert!(v.message.contains("while the adapter is Paused"), "{v}");
    // SAFETY: ours again (RESOURCES).
    unsafe { n::NdisFreeNetBufferList(nbl) };
}

#[test]
fn indications_with_a_wrong_count_or_source_handle_are_violations() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let pool = s.rx_pool.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    // SAFETY: the driver's pool.
    let nbl = unsafe {
        n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, 64)
    };
    // SourceHandle left NULL, and a count of 2 for one NBL.
    // SAFETY: the adapter and the NBL at PASSIVE_LEVEL.
    unsafe {
        n::NdisMIndicateReceiveNetBufferLists(
            s.adapter(),
            nbl,
            0,
            2,
            n::NDIS_RECEIVE_FLAGS_RESOURCES,
        )
    };
    let msgs: Vec<String> = h.take_violations().into_iter().map(|v| v.message).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("NumberOfNetBufferLists is 2")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("SourceHandle")), "{msgs:?}");
    // SAFETY: ours (RESOURCES).
    unsafe { n::NdisFreeNetBufferList(nbl) };
}

#[test]
fn inline_return_policy_returns_inside_the_indication() {
    let (entry, s) = driver(loopback_cfg());
    let emu = EmuConfig {
        return_policy: ReturnPolicy::Inline,
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(64, 9)])).unwrap();
    h.send(vec![nbl]).unwrap();
    // By the time the send completed (after the indication returned), the NBL came back.
    h.wait_completions(1, T);
    assert_eq!(s.returned.load(Ordering::SeqCst), 1);
}

fn sg_cfg() -> Cfg {
    Cfg {
        sg_dma: Some(2),
        sg_on_send: true,
        ..Default::default()
    }
}

fn device_bytes(bus: &ndis_emu::bus::fake::FakeBus, els: &[(u64, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(pa, len) in els {
        let mut b = vec![0u8; len as usize];
        bus.device()
            .memory()
            .read(pa, &mut b)
            .expect("element inside device memory");
        out.extend(b);
    }
    out
}

#[test]
fn sg_lists_map_dma_data_in_place_one_element_per_page() {
    let (entry, s) = driver(sg_cfg());
    let (mut h, bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    assert!(
        s.sg_list_size.load(Ordering::SeqCst) >= 16 + 24 * 17,
        "room for a 64 KiB mapping"
    );
    let f = frame(9000, 5);
    let nbl = h
        .nbl(&NblSpec::default().nb(NbSpec::new(&f).split_at(&[14, 54])))
        .unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    let lists = s.sg_lists.lock().unwrap().clone();
    assert_eq!(lists.len(), 1);
    let els = &lists[0];
    // Split pieces (14 + 40 + 8946 bytes) and page boundaries: no element crosses a page.
    assert!(
        els.iter()
            .all(|&(pa, len)| (pa % 4096) + u64::from(len) <= 4096),
        "{els:x?}"
    );
    assert!(els.len() >= 5, "{els:x?}");
    assert_eq!(
        device_bytes(&bus, els),
        f,
        "the device sees the frame at the element addresses"
    );
    assert_eq!(h.outstanding_sg_lists(), 0);
    assert!(h.take_violations().is_empty());
}

#[test]
fn data_outside_dma_memory_is_bounced_into_dma_memory() {
    let (entry, s) = driver(sg_cfg());
    let (mut h, bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let f = frame(1514, 11);
    let nbl = h
        .nbl(&NblSpec::default().nb(NbSpec::new(&f).split_at(&[14]).non_dma()))
        .unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    let els = s.sg_lists.lock().unwrap()[0].clone();
    assert_eq!(device_bytes(&bus, &els), f, "bounce buffer holds the frame");
    assert!(h.take_violations().is_empty());
}

#[test]
fn sg_list_builders_detect_a_mapping_beyond_the_registered_maximum() {
    let (entry, s) = driver(sg_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let f = frame(70_000, 1);
    let nbl = h.nbl(&NblSpec::default().nb(NbSpec::new(&f))).unwrap();
    h.send(vec![nbl]).unwrap();
    h.wait_completions(1, T);
    let v = h.expect_violation(Kind::Dma);
    assert!(v.message.contains("MaximumPhysicalMapping"), "{v}");
    assert!(s.sg_lists.lock().unwrap().is_empty());
}

#[test]
fn sg_list_allocation_below_dispatch_level_is_an_irql_violation() {
    let (entry, s) = driver(sg_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&frame(100, 0)])).unwrap();
    let nb = nbl.nbs()[0];
    let d = s.dma.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    // SAFETY: valid DMA handle and NB, called at PASSIVE_LEVEL on purpose.
    let st = unsafe {
        n::NdisMAllocateNetBufferSGList(
            d,
            nb,
            s.adapter_ctx.load(Ordering::SeqCst) as n::PVOID,
            0,
            std::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(st, n::NDIS_STATUS_SUCCESS);
    h.expect_violation(Kind::Irql);
    // Leave the list allocated: the Halt leak check reports it.
    h.pause().unwrap();
    h.halt().unwrap();
    let kinds: Vec<Kind> = h.take_violations().iter().map(|v| v.kind).collect();
    assert!(kinds.contains(&Kind::Leak), "{kinds:?}");
    drop(nbl);
}

#[test]
fn a_protocol_handle_sends_from_another_thread_and_stops_cleanly_at_a_pause() {
    let (entry, _s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let p = h.protocol().unwrap();
    let sender = std::thread::spawn(move || {
        let mut sent = 0u64;
        loop {
            let nbl = p.nbl(&NblSpec::frames(&[&frame(100, sent as u8)])).unwrap();
            match p.send(vec![nbl]) {
                Ok(()) => sent += 1,
                Err(ndis_emu::LifecycleError::WrongState(s)) => return (sent, s),
                Err(e) => panic!("{e:?}"),
            }
            // Keep at most a few in flight.
            while p.outstanding_sends() > 4 {
                p.wait_completions(1, Duration::from_millis(10));
            }
        }
    });
    let mut got = 0;
    while got < 50 {
        got += h.recv(T).expect("receive").frames.len();
    }
    h.pause().unwrap();
    let (sent, state) = sender.join().unwrap();
    assert!(sent >= 50, "{sent}");
    assert!(
        matches!(
            state,
            ndis_emu::AdapterState::Pausing | ndis_emu::AdapterState::Paused
        ),
        "{state:?}"
    );
    let st = h.datapath_stats();
    assert_eq!(st.sent, sent);
    assert_eq!(st.completed, sent, "pause waited for every send");
    assert_eq!(st.indicated, st.returned);
    // The handle refuses sends while paused, and works again after a restart.
    let p = h.protocol().unwrap();
    let nbl = p.nbl(&NblSpec::frames(&[&frame(60, 1)])).unwrap();
    assert!(p.send(vec![nbl]).is_err());
    h.restart().unwrap();
    let nbl = p.nbl(&NblSpec::frames(&[&frame(60, 1)])).unwrap();
    // Take the completions the sender left queued, then wait for the new one.
    p.wait_completions(0, Duration::ZERO);
    p.send(vec![nbl]).unwrap();
    assert_eq!(p.wait_completions(1, T).len(), 1);
    assert_eq!(p.stats().completed, sent + 1);
    h.down().unwrap();
    let nbl = p.nbl(&NblSpec::frames(&[&frame(60, 1)])).unwrap();
    assert!(p.send(vec![nbl]).is_err());
}

/// Pools for NBLs built by the test itself (NBL pool without NBs, NB pool).
fn own_pools(a: n::NDIS_HANDLE) -> (n::NDIS_HANDLE, n::NDIS_HANDLE) {
    let lp = n::NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            n::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: 0,
        fAllocateNetBuffer: 0,
        ContextSize: 0,
        PoolTag: u32::from_le_bytes(*b"tvl1"),
        DataSize: 0,
    };
    let bp = n::NET_BUFFER_POOL_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NET_BUFFER_POOL_PARAMETERS_REVISION_1,
            n::NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
        ),
        PoolTag: u32::from_le_bytes(*b"tvb1"),
        DataSize: 0,
    };
    // SAFETY: valid parameters and adapter handle.
    let l = unsafe { n::NdisAllocateNetBufferListPool(a, &lp) };
    // SAFETY: as above.
    let b = unsafe { n::NdisAllocateNetBufferPool(a, &bp) };
    assert!(!l.is_null() && !b.is_null());
    (l, b)
}

/// What a view callback saw of one NBL: per NB its (address, length) segments and its data.
type Seen = Vec<(Vec<Vec<(usize, usize)>>, Vec<Vec<u8>>, usize, u32)>;

#[test]
fn a_view_callback_sees_net_buffers_in_place_across_mdls_and_malformed_ones_stay_violations() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.set_receive_capture(false);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let owned: Arc<Mutex<Vec<RxNbl>>> = Arc::default();
    let sv = seen.clone();
    h.set_receive_view_callback(Some(Arc::new(move |v: &RxView<'_>| {
        let segs = v
            .nbs()
            .map(|nb| {
                nb.segments()
                    .iter()
                    .map(|s| (s.as_ptr() as usize, s.len()))
                    .collect()
            })
            .collect();
        let data = v.nbs().map(|nb| nb.to_vec()).collect();
        assert_eq!(v.nbs().len(), v.nb_count());
        assert!(v.nb(v.nb_count()).is_none());
        sv.lock()
            .unwrap()
            .push((segs, data, v.info(3), v.receive_flags));
    })));
    let ov = owned.clone();
    h.set_receive_callback(Some(Arc::new(move |r: &RxNbl| {
        ov.lock().unwrap().push(r.clone())
    })));

    let a = s.adapter();
    let (lpool, bpool) = own_pools(a);
    let mut bufs: Vec<Vec<u8>> = vec![
        (0u8..10).collect(),
        (10u8..30).collect(),
        (30u8..64).collect(),
        (100u8..108).collect(),
        (200u8..204).collect(),
    ];
    let mut mdls = Vec::new();
    for b in bufs.iter_mut() {
        // SAFETY: the buffers outlive the MDLs.
        let m = unsafe { n::NdisAllocateMdl(a, b.as_mut_ptr().cast(), b.len() as u32) };
        assert!(!m.is_null());
        mdls.push(m);
    }
    // Chain 0 → 1 → 2; 3 and 4 alone.
    for i in 0..2 {
        // SAFETY: our MDL.
        unsafe { (*mdls[i]).Next = mdls[i + 1] };
    }
    // NB 1: 58 bytes from offset 4 (three MDLs); NB 2: 8 bytes; NB 3: DataLength beyond its
    // MDL (malformed).
    let nbs: Vec<*mut n::NET_BUFFER> = [(0, 4, 58), (3, 0, 8), (4, 0, 4)]
        .into_iter()
        // SAFETY: valid pool and chains.
        .map(|(m, off, len)| unsafe { n::NdisAllocateNetBuffer(bpool, mdls[m], off, len) })
        .collect();
    assert!(nbs.iter().all(|nb| !nb.is_null()));
    let (bad, mut prev) = (nbs[2], nbs[0]);
    // SAFETY: our NB.
    unsafe { (*bad).set_data_length(9) };
    for &next in &nbs[1..] {
        // SAFETY: our NB.
        unsafe { (*prev).set_next_nb(next) };
        prev = next;
    }
    // SAFETY: valid pool.
    let nbl = unsafe { n::NdisAllocateNetBufferList(lpool, 0, 0) };
    assert!(!nbl.is_null());
    {
        // SAFETY: our NBL.
        let l = unsafe { &mut *nbl };
        l.set_first_nb(nbs[0]);
        l.SourceHandle = a;
        l.set_info_value(3, 0x1234);
    }
    // SAFETY: the adapter and our NBL at PASSIVE_LEVEL; with RESOURCES it is ours again after.
    unsafe { n::NdisMIndicateReceiveNetBufferLists(a, nbl, 0, 1, n::NDIS_RECEIVE_FLAGS_RESOURCES) };
    let v = h.expect_violation(Kind::Receive);
    assert!(v.message.contains("malformed NET_BUFFER"), "{v}");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (segs, data, info3, flags) = &seen[0];
    // In place: the slices are the MDLs' own buffers (no copy), split at the MDL boundaries.
    let at = |i: usize, off: usize| bufs[i].as_ptr() as usize + off;
    assert_eq!(
        segs,
        &vec![
            vec![(at(0, 4), 6), (at(1, 0), 20), (at(2, 0), 32)],
            vec![(at(3, 0), 8)]
        ],
        "the malformed NB is not shown"
    );
    assert_eq!(data[0], (4u8..62).collect::<Vec<u8>>());
    assert_eq!(data[1], (100u8..108).collect::<Vec<u8>>());
    assert_eq!((*info3, *flags), (0x1234, n::NDIS_RECEIVE_FLAGS_RESOURCES));
    // The copying callback got the same data.
    let owned = owned.lock().unwrap().clone();
    assert_eq!(owned.len(), 1);
    assert_eq!(&owned[0].frames, data);
    assert!(h.recv(Duration::ZERO).is_none(), "capture is off");

    // Ours again (RESOURCES): unlink and free.
    // SAFETY: our NBL.
    unsafe { (*nbl).set_first_nb(std::ptr::null_mut()) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferList(nbl) };
    for nb in nbs {
        // SAFETY: our NB.
        unsafe { n::NdisFreeNetBuffer(nb) };
    }
    for m in mdls {
        // SAFETY: our MDL.
        unsafe { n::NdisFreeMdl(m) };
    }
    // SAFETY: our pools, empty now.
    unsafe { n::NdisFreeNetBufferListPool(lpool) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferPool(bpool) };
}

#[test]
fn a_view_callback_alone_receives_every_frame_and_the_nbls_are_returned() {
    let (entry, s) = driver(loopback_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    h.set_receive_capture(false);
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let g = got.clone();
    h.set_receive_view_callback(Some(Arc::new(move |v: &RxView<'_>| {
        assert_eq!(v.irql, n::DISPATCH_LEVEL);
        let mut out = g.lock().unwrap();
        for nb in v.nbs() {
            let mut buf = Vec::new();
            nb.copy_to(&mut buf);
            assert_eq!(buf.len(), nb.len());
            out.push(buf);
        }
    })));
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(60 + i * 300, i as u8)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let nbl = h.nbl(&NblSpec::frames(&refs)).unwrap();
    h.send(vec![nbl]).unwrap();
    assert_eq!(h.wait_completions(1, T).len(), 1);
    let start = std::time::Instant::now();
    while s.returned.load(Ordering::SeqCst) < 4 && start.elapsed() < T {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(*got.lock().unwrap(), frames);
    assert_eq!(s.returned.load(Ordering::SeqCst), 4);
    let st = h.datapath_stats();
    assert_eq!((st.indicated, st.returned, st.capture_dropped), (4, 4, 0));
    assert_eq!(
        st.rx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    assert!(h.recv(Duration::ZERO).is_none());
}

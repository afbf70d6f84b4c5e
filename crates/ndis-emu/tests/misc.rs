//! Handles, pool memory, shared memory, status indications, driver-requested resets and the
//! accounting of nested driver calls.

mod common;

use std::time::{Duration, Instant};

use common::{driver, fake, registry, Cfg};
use ndis_emu::{Handler, Harness, Kind, NbSpec, NblSpec};
use ndis_sys as n;

fn up(cfg: Cfg) -> (Harness, std::sync::Arc<common::Shared>) {
    let (entry, s) = driver(cfg);
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    (h, s)
}

#[test]
fn handles_ndis_never_gave_out_are_rejected_without_being_dereferenced() {
    let (h, s) = up(Cfg::default());
    h.quiet(true);
    let bogus = 0xDEAD_BEEF_0000usize as n::NDIS_HANDLE;
    // SAFETY: the emulator validates handles before any use.
    let p = unsafe { n::NdisAllocateMemoryWithTagPriority(bogus, 16, 1, n::NormalPoolPriority) };
    assert!(p.is_null());
    assert!(h
        .expect_violation(Kind::InvalidHandle)
        .message
        .contains("not a live"));
    // A handle of the wrong kind: the driver handle where an adapter handle is needed.
    let dh = s.driver_handle.load(std::sync::atomic::Ordering::SeqCst) as n::NDIS_HANDLE;
    // SAFETY: as above.
    unsafe { n::NdisMIndicateStatusEx(dh, std::ptr::null_mut()) };
    assert!(h
        .expect_violation(Kind::InvalidHandle)
        .message
        .contains("driver handle"));
    // NULL.
    // SAFETY: as above.
    unsafe { n::NdisMPauseComplete(std::ptr::null_mut()) };
    assert!(h
        .expect_violation(Kind::InvalidHandle)
        .message
        .contains("NULL"));
}

#[test]
fn pool_memory_misuse_is_detected() {
    let (h, s) = up(Cfg::default());
    h.quiet(true);
    let a = s.adapter();
    let tag = u32::from_le_bytes(*b"mem1");
    // SAFETY: valid adapter handle.
    let p = unsafe { n::NdisAllocateMemoryWithTagPriority(a, 64, tag, n::NormalPoolPriority) };
    // Not zeroed by contract: the emulator fills it with a pattern.
    // SAFETY: 64 bytes just allocated.
    assert_eq!(unsafe { *p.cast::<u8>() }, 0xCD);
    // SAFETY: the allocation, with the wrong tag.
    unsafe { n::NdisFreeMemoryWithTagPriority(a, p, tag + 1) };
    assert!(h.expect_violation(Kind::Memory).message.contains("tag"));
    // Freed (despite the wrong tag): a second free is a double free.
    // SAFETY: the emulator checks the pointer against its live allocations first.
    unsafe { n::NdisFreeMemoryWithTagPriority(a, p, tag) };
    assert!(h
        .expect_violation(Kind::Memory)
        .message
        .contains("double free"));
    // ExAllocatePool2 zeroes unless asked not to.
    // SAFETY: valid flags.
    let z = unsafe { n::ExAllocatePool2(n::POOL_FLAG_NON_PAGED, 32, tag) };
    // SAFETY: 32 bytes just allocated.
    let bytes = unsafe { std::slice::from_raw_parts(z.cast::<u8>(), 32) };
    assert_eq!(bytes, &[0u8; 32]);
    // SAFETY: the allocation.
    unsafe { n::ExFreePoolWithTag(z, tag) };
    // SAFETY: both pool kinds at once are refused.
    let bad = unsafe { n::ExAllocatePool2(n::POOL_FLAG_NON_PAGED | n::POOL_FLAG_PAGED, 32, tag) };
    assert!(bad.is_null());
    h.expect_violation(Kind::Memory);
}

#[test]
fn shared_memory_must_be_freed_with_the_arguments_it_was_allocated_with() {
    let (h, s) = up(Cfg::default());
    h.quiet(true);
    let a = s.adapter();
    let mut va: n::PVOID = std::ptr::null_mut();
    let mut pa: i64 = 0;
    // SAFETY: valid adapter and out-parameters, at PASSIVE_LEVEL.
    unsafe { n::NdisMAllocateSharedMemory(a, 10_000, n::TRUE, &mut va, &mut pa) };
    assert!(!va.is_null());
    assert_eq!(va as usize % 4096, 0, "page aligned like a common buffer");
    assert_eq!(pa % 4096, 0);
    // SAFETY: the allocation, with a wrong length.
    unsafe { n::NdisMFreeSharedMemory(a, 4096, n::TRUE, va, pa) };
    assert!(h
        .expect_violation(Kind::Dma)
        .message
        .contains("length 4096 vs 10000"));
    // SAFETY: already freed above; the emulator reports instead of freeing twice.
    unsafe { n::NdisMFreeSharedMemory(a, 10_000, n::TRUE, va, pa) };
    assert!(h
        .expect_violation(Kind::Dma)
        .message
        .contains("double free"));
}

#[test]
fn status_indications_are_recorded_validated_and_decoded() {
    let (h, s) = up(Cfg::default());
    h.quiet(true);
    let ls = n::NDIS_LINK_STATE {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NDIS_LINK_STATE_REVISION_1,
            n::NDIS_SIZEOF_LINK_STATE_REVISION_1,
        ),
        MediaConnectState: n::MediaConnectStateDisconnected,
        MediaDuplexState: n::MediaDuplexStateFull,
        XmitLinkSpeed: n::NET_IF_LINK_SPEED_UNKNOWN,
        RcvLinkSpeed: n::NET_IF_LINK_SPEED_UNKNOWN,
        PauseFunctions: 0,
        AutoNegotiationFlags: 0,
    };
    let mut ind = n::NDIS_STATUS_INDICATION::new(
        s.adapter(),
        n::NDIS_STATUS_LINK_STATE,
        (&ls as *const n::NDIS_LINK_STATE).cast_mut().cast(),
        core::mem::size_of::<n::NDIS_LINK_STATE>() as u32,
    );
    // SAFETY: a valid indication from the adapter.
    unsafe { n::NdisMIndicateStatusEx(s.adapter(), &mut ind) };
    let r = h
        .wait_status(n::NDIS_STATUS_LINK_STATE, Duration::from_secs(1))
        .unwrap();
    assert_eq!(
        r.link_state().map(|l| l.MediaConnectState),
        Some(n::MediaConnectStateDisconnected)
    );
    assert!(h.take_violations().is_empty());
    // Wrong SourceHandle.
    ind.SourceHandle = std::ptr::null_mut();
    // SAFETY: as above.
    unsafe { n::NdisMIndicateStatusEx(s.adapter(), &mut ind) };
    assert!(h
        .expect_violation(Kind::BadParameter)
        .message
        .contains("SourceHandle"));
    // A current-offload-config indication updates what NDIS reports for the adapter.
    // SAFETY: plain data.
    let mut o: n::NDIS_OFFLOAD = unsafe { std::mem::zeroed() };
    o.Header = n::NDIS_OBJECT_HEADER::new(
        n::NDIS_OBJECT_TYPE_OFFLOAD,
        n::NDIS_OFFLOAD_REVISION_7,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7,
    );
    o.Rsc.IPv4Enabled = 1;
    let mut ind = n::NDIS_STATUS_INDICATION::new(
        s.adapter(),
        n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
        (&mut o as *mut n::NDIS_OFFLOAD).cast(),
        u32::from(n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7),
    );
    // SAFETY: a valid indication.
    unsafe { n::NdisMIndicateStatusEx(s.adapter(), &mut ind) };
    assert_eq!(
        h.attributes().offload_default.map(|o| o.Rsc.IPv4Enabled),
        Some(1)
    );
    assert!(h.take_violations().is_empty());
}

#[test]
fn ndism_reset_miniport_makes_ndis_call_reset_ex() {
    let (h, s) = up(Cfg::default());
    // SAFETY: the adapter handle at PASSIVE_LEVEL (allowed up to DISPATCH).
    unsafe { n::NdisMResetMiniport(s.adapter()) };
    let start = Instant::now();
    while !s.events().contains(&"Reset".to_string()) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(s.events().contains(&"Reset".to_string()));
    assert!(h.wait_idle(Duration::from_secs(5)));
    assert_eq!(h.hang_checks_and_resets().1, 1);
}

#[test]
fn nested_driver_calls_are_accounted_to_their_own_handler() {
    let (mut h, _s) = up(Cfg {
        sg_dma: Some(1),
        sg_on_send: true,
        ..Default::default()
    });
    h.reset_accounting();
    for _ in 0..20 {
        let nbl = h
            .nbl(&NblSpec::default().nb(NbSpec::new(&[0x5A; 3000]).split_at(&[100])))
            .unwrap();
        h.send(vec![nbl]).unwrap();
    }
    assert_eq!(h.wait_completions(20, Duration::from_secs(5)).len(), 20);
    let a = h.accounting();
    assert_eq!(a.get(Handler::Send).calls, 20);
    assert_eq!(a.get(Handler::ProcessSgList).calls, 20);
    // ProcessSGList runs inside Send: its time is not counted twice.
    let send = a.get(Handler::Send);
    let sg = a.get(Handler::ProcessSgList);
    assert!(
        send.cpu_ns + sg.cpu_ns <= send.wall_ns + sg.wall_ns + 1_000_000,
        "{send:?} {sg:?}"
    );
    assert!(a.total_cpu_ns() > 0);
}

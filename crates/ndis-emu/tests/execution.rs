//! The execution model: IRQL tracking, spin locks, processor exclusivity at DISPATCH_LEVEL,
//! interrupts (ISR at DIRQL, DPC on the target processor), timers, work items, events, device
//! registers through the seam, and CPU accounting.

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{driver, fake, registry, Cfg, KeGetCurrentIrql};
use ndis_emu::{EmuConfig, Handler, Harness, InterruptMode, Kind};
use ndis_sys as n;

const T: Duration = Duration::from_secs(5);

unsafe extern "system" {
    fn READ_REGISTER_USHORT(register: *const u16) -> u16;
    fn WRITE_REGISTER_USHORT(register: *mut u16, value: u16);
    fn READ_REGISTER_UCHAR(register: *const u8) -> u8;
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > T {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

fn irql() -> u8 {
    // SAFETY: exported by the emulator.
    unsafe { KeGetCurrentIrql() }
}

fn intr_cfg() -> Cfg {
    Cfg {
        interrupts: true,
        map_bars: true,
        ..Default::default()
    }
}

#[test]
fn a_message_limit_grants_fewer_msix_messages_than_the_table_has() {
    let (entry, s) = driver(intr_cfg());
    let emu = EmuConfig {
        msix_messages: Some(3),
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.up(entry).unwrap();
    let table = s.message_table.lock().unwrap().clone();
    assert_eq!(table.len(), 3);
    let msgs = s
        .resources
        .lock()
        .unwrap()
        .iter()
        .filter(|d| {
            d.0 == n::CmResourceTypeInterrupt && d.1 & n::CM_RESOURCE_INTERRUPT_MESSAGE != 0
        })
        .count();
    assert_eq!(msgs, 3);
    assert!(h.fire_interrupt(2));
    assert!(!h.fire_interrupt(3), "message 3 was not granted");
}

#[test]
fn an_interrupt_runs_the_isr_at_dirql_and_the_dpc_at_dispatch_on_the_message_processor() {
    let (entry, s) = driver(intr_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    assert_eq!(
        s.interrupt_type.load(Ordering::SeqCst),
        n::NDIS_CONNECT_MESSAGE_BASED as u32
    );
    let table = s.message_table.lock().unwrap().clone();
    assert_eq!(table.len(), 8);
    assert_eq!(table[3].1, 1 << 1, "message 3 targets processor 1 of 2");
    assert!(h.fire_interrupt(3));
    assert!(wait_until(|| !s.dpc.lock().unwrap().is_empty()));
    assert_eq!(
        s.isr.lock().unwrap().as_slice(),
        &[(3, 1, ndis_emu::ctx::DIRQL)]
    );
    assert_eq!(
        s.dpc.lock().unwrap().as_slice(),
        &[(3, 1, n::DISPATCH_LEVEL)]
    );
    // TargetProcessors instead of the default DPC: processor 0 and 1.
    {
        let mut c = s.cfg.lock().unwrap();
        c.queue_default_dpc = false;
        c.dpc_targets = 0b11;
    }
    s.dpc.lock().unwrap().clear();
    h.fire_interrupt(2);
    assert!(wait_until(|| s.dpc.lock().unwrap().len() == 2));
    let mut cpus: Vec<u32> = s.dpc.lock().unwrap().iter().map(|d| d.1).collect();
    cpus.sort_unstable();
    assert_eq!(cpus, vec![0, 1]);
    // A target processor that does not exist is a violation.
    h.quiet(true);
    s.cfg.lock().unwrap().dpc_targets = 0b100;
    h.fire_interrupt(2);
    h.expect_violation(Kind::Interrupt);
}

#[test]
fn the_fake_device_raises_msix_through_registers_the_driver_programmed() {
    let (entry, s) = driver(intr_cfg());
    let (mut h, bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let bars = s.bars.lock().unwrap().clone();
    let (va, _, _) = *bars
        .iter()
        .find(|b| b.2 == 0xFE00_4000)
        .expect("BAR4 mapped");
    assert!(
        ndis_emu::is_register_address(va),
        "BAR VA lies in the reserved range"
    );
    // virtio common cfg: msix_config at 0x10 := vector 0; device cfg status at 0x2000 + 6.
    // SAFETY: inside the mapped BAR; the emulator forwards to the fake device.
    unsafe { WRITE_REGISTER_USHORT((va + 0x10) as *mut u16, 0) };
    assert_eq!(
        // SAFETY: as above.
        unsafe { READ_REGISTER_USHORT((va + 0x10) as *const u16) },
        0
    );
    assert_eq!(
        // SAFETY: as above.
        unsafe { READ_REGISTER_USHORT((va + 0x2006) as *const u16) } & 1,
        1,
        "link up"
    );
    bus.device().set_link(false);
    assert!(
        wait_until(|| !s.dpc.lock().unwrap().is_empty()),
        "config interrupt delivered"
    );
    assert_eq!(s.isr.lock().unwrap()[0].0, 0);
    assert_eq!(
        // SAFETY: as above.
        unsafe { READ_REGISTER_USHORT((va + 0x2006) as *const u16) } & 1,
        0,
        "link down"
    );
    assert!(h.isr_calls() >= 1);
}

#[test]
fn register_access_outside_a_mapping_is_a_violation_and_reads_all_ones() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    let local = 0u8;
    // SAFETY: the emulator validates the address before doing anything with it.
    let v = unsafe { READ_REGISTER_UCHAR(&local) };
    assert_eq!(v, 0xFF);
    h.expect_violation(Kind::Mmio);
}

#[test]
fn polling_mode_calls_the_isr_without_doorbells() {
    let (entry, s) = driver(intr_cfg());
    let emu = EmuConfig {
        interrupt_mode: InterruptMode::Polling(Duration::from_millis(2)),
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.up(entry).unwrap();
    assert!(
        wait_until(|| s.isr.lock().unwrap().len() >= 16),
        "8 messages polled at least twice"
    );
}

#[test]
fn spin_locks_raise_to_dispatch_and_misuse_is_detected() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    let mut lk: n::KSPIN_LOCK = 0;
    // SAFETY: an initialised lock word.
    let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(&mut lk) };
    assert_eq!((old, irql()), (n::PASSIVE_LEVEL, n::DISPATCH_LEVEL));
    // Recursive acquisition.
    // SAFETY: same lock (deliberately).
    unsafe { n::KeAcquireSpinLockAtDpcLevel(&mut lk) };
    assert!(h
        .expect_violation(Kind::SpinLock)
        .message
        .contains("recursive"));
    // SAFETY: releasing what we hold.
    unsafe { n::KeReleaseSpinLock(&mut lk, old) };
    assert_eq!(irql(), n::PASSIVE_LEVEL);
    // Release of a lock nobody holds.
    // SAFETY: the emulator checks ownership.
    unsafe { n::KeReleaseSpinLockFromDpcLevel(&mut lk) };
    let kinds: Vec<Kind> = h.take_violations().iter().map(|v| v.kind).collect();
    assert!(
        kinds.contains(&Kind::SpinLock) && kinds.contains(&Kind::Irql),
        "{kinds:?}"
    );
    // An uninitialised lock word.
    let mut junk: n::KSPIN_LOCK = 0x1234;
    // SAFETY: the emulator recognises a word that is neither free nor an owner token.
    let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(&mut junk) };
    assert!(h
        .expect_violation(Kind::SpinLock)
        .message
        .contains("not initialised"));
    // SAFETY: restore the IRQL (the emulator raised it before noticing).
    unsafe { n::KeReleaseSpinLock(&mut junk, old) };
    h.take_violations();
    assert_eq!(irql(), n::PASSIVE_LEVEL);
}

#[test]
fn ndis_spin_lock_saves_and_restores_the_irql() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    let mut l = n::NDIS_SPIN_LOCK::default();
    // SAFETY: storage for an NDIS spin lock.
    unsafe { n::NdisAllocateSpinLock(&mut l) };
    // SAFETY: initialised lock.
    unsafe { n::NdisAcquireSpinLock(&mut l) };
    assert_eq!((irql(), l.OldIrql), (n::DISPATCH_LEVEL, n::PASSIVE_LEVEL));
    // SAFETY: at DISPATCH, nested Dpr form on another lock.
    let mut l2 = n::NDIS_SPIN_LOCK::default();
    // SAFETY: storage for an NDIS spin lock.
    unsafe { n::NdisAllocateSpinLock(&mut l2) };
    // SAFETY: at DISPATCH_LEVEL.
    unsafe { n::NdisDprAcquireSpinLock(&mut l2) };
    // SAFETY: held.
    unsafe { n::NdisDprReleaseSpinLock(&mut l2) };
    // SAFETY: held.
    unsafe { n::NdisReleaseSpinLock(&mut l) };
    assert_eq!(irql(), n::PASSIVE_LEVEL);
    // SAFETY: free both.
    unsafe { n::NdisFreeSpinLock(&mut l) };
    // SAFETY: as above.
    unsafe { n::NdisFreeSpinLock(&mut l2) };
    assert!(h.take_violations().is_empty());
}

#[test]
fn blocking_calls_at_dispatch_level_are_violations() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    let mut lk: n::KSPIN_LOCK = 0;
    // SAFETY: initialised lock.
    let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(&mut lk) };
    let t = Instant::now();
    // SAFETY: deliberately at DISPATCH_LEVEL.
    unsafe { n::NdisMSleep(200_000) };
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "the sleep was refused"
    );
    assert!(h
        .expect_violation(Kind::Blocking)
        .message
        .contains("IRQL 2"));
    let mut ev = n::NDIS_EVENT::default();
    // SAFETY: event storage.
    unsafe { n::NdisInitializeEvent(&mut ev) };
    // SAFETY: deliberately at DISPATCH_LEVEL.
    assert_eq!(unsafe { n::NdisWaitEvent(&mut ev, 10) }, n::FALSE);
    h.expect_violation(Kind::Blocking);
    // SAFETY: release.
    unsafe { n::KeReleaseSpinLock(&mut lk, old) };
}

#[test]
fn events_wait_for_a_set_from_another_thread_and_time_out() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    let ev = Box::leak(Box::new(n::NDIS_EVENT::default()));
    // SAFETY: event storage that lives forever.
    unsafe { n::NdisInitializeEvent(ev) };
    let t = Instant::now();
    // SAFETY: initialised event at PASSIVE_LEVEL.
    assert_eq!(unsafe { n::NdisWaitEvent(ev, 20) }, n::FALSE);
    assert!(t.elapsed() >= Duration::from_millis(20));
    let addr = ev as *mut n::NDIS_EVENT as usize;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        // SAFETY: the leaked, initialised event.
        unsafe { n::NdisSetEvent(addr as *mut n::NDIS_EVENT) };
    });
    // SAFETY: as above.
    assert_eq!(unsafe { n::NdisWaitEvent(ev, 0) }, n::TRUE);
    // SAFETY: as above.
    unsafe { n::NdisResetEvent(ev) };
    // SAFETY: as above.
    assert_eq!(unsafe { n::NdisWaitEvent(ev, 1) }, n::FALSE);
    assert!(h.take_violations().is_empty());
}

#[test]
fn a_processor_at_dispatch_level_runs_no_dpc_until_it_lowers_the_irql() {
    let (entry, s) = driver(intr_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let ih = s.interrupt.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    // The test thread runs on processor 0; raising to DISPATCH owns it.
    let mut lk: n::KSPIN_LOCK = 0;
    // SAFETY: initialised lock.
    let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(&mut lk) };
    let mut g = n::GROUP_AFFINITY {
        Mask: 1,
        ..Default::default()
    };
    assert_eq!(
        // SAFETY: our interrupt handle; DPC for message 1 on processor 0.
        unsafe { n::NdisMQueueDpcEx(ih, 1, &mut g, std::ptr::null_mut()) },
        1
    );
    // Queuing it again while queued does nothing.
    assert_eq!(
        // SAFETY: as above.
        unsafe { n::NdisMQueueDpcEx(ih, 1, &mut g, std::ptr::null_mut()) },
        0
    );
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        s.dpc.lock().unwrap().is_empty(),
        "the DPC must wait for processor 0"
    );
    let released = Instant::now();
    // SAFETY: release, back to PASSIVE.
    unsafe { n::KeReleaseSpinLock(&mut lk, old) };
    assert!(wait_until(|| !s.dpc.lock().unwrap().is_empty()));
    assert_eq!(
        s.dpc.lock().unwrap().as_slice(),
        &[(1, 0, n::DISPATCH_LEVEL)]
    );
    let _ = released;
}

static TIMER_FIRES: AtomicU32 = AtomicU32::new(0);
static TIMER_IRQL: AtomicU32 = AtomicU32::new(99);
static TIMER_CTX: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn timer_fn(_s1: n::PVOID, ctx: n::PVOID, _s2: n::PVOID, _s3: n::PVOID) {
    TIMER_FIRES.fetch_add(1, Ordering::SeqCst);
    TIMER_IRQL.store(u32::from(irql()), Ordering::SeqCst);
    TIMER_CTX.store(ctx as usize, Ordering::SeqCst);
}

fn timer_chars(f: n::NDIS_TIMER_FUNCTION, ctx: usize) -> n::NDIS_TIMER_CHARACTERISTICS {
    n::NDIS_TIMER_CHARACTERISTICS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            n::NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            n::NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: u32::from_le_bytes(*b"tmr1"),
        TimerFunction: f,
        FunctionContext: ctx as n::PVOID,
    }
}

#[test]
fn timers_fire_once_or_periodically_at_dispatch_and_cancel() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let a = s.adapter();
    let mut c = timer_chars(Some(timer_fn), 0x77);
    let mut t: n::NDIS_HANDLE = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: valid characteristics and adapter.
        unsafe { n::NdisAllocateTimerObject(a, &mut c, &mut t) },
        n::NDIS_STATUS_SUCCESS
    );
    // One-shot in 5 ms (relative, 100 ns units), default context.
    assert_eq!(
        // SAFETY: our timer.
        unsafe { n::NdisSetTimerObject(t, -50_000, 0, std::ptr::null_mut()) },
        n::FALSE
    );
    assert!(wait_until(|| TIMER_FIRES.load(Ordering::SeqCst) == 1));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(TIMER_FIRES.load(Ordering::SeqCst), 1, "one-shot");
    assert_eq!(
        TIMER_IRQL.load(Ordering::SeqCst),
        u32::from(n::DISPATCH_LEVEL)
    );
    assert_eq!(TIMER_CTX.load(Ordering::SeqCst), 0x77);
    // Periodic every 2 ms with its own context.
    // SAFETY: our timer.
    unsafe { n::NdisSetTimerObject(t, -20_000, 2, 0x99 as n::PVOID) };
    assert!(wait_until(|| TIMER_FIRES.load(Ordering::SeqCst) >= 5));
    assert_eq!(TIMER_CTX.load(Ordering::SeqCst), 0x99);
    // SAFETY: our timer: it was set, so cancel reports TRUE.
    assert_eq!(unsafe { n::NdisCancelTimerObject(t) }, n::TRUE);
    std::thread::sleep(Duration::from_millis(10));
    let after = TIMER_FIRES.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(TIMER_FIRES.load(Ordering::SeqCst), after, "cancelled");
    // Freeing a set timer is a bug.
    // SAFETY: our timer.
    unsafe { n::NdisSetTimerObject(t, -10_000_000, 0, std::ptr::null_mut()) };
    // SAFETY: our timer (still set: deliberately).
    unsafe { n::NdisFreeTimerObject(t) };
    assert!(h
        .expect_violation(Kind::Scheduling)
        .message
        .contains("still set"));
}

static HOLD_LOCK: Mutex<usize> = Mutex::new(0);

unsafe extern "system" fn timer_keeps_lock(
    _s1: n::PVOID,
    _ctx: n::PVOID,
    _s2: n::PVOID,
    _s3: n::PVOID,
) {
    let p = *HOLD_LOCK.lock().unwrap() as *mut n::KSPIN_LOCK;
    // SAFETY: a lock word the test leaked; acquired at DISPATCH and deliberately kept.
    unsafe { n::KeAcquireSpinLockAtDpcLevel(p) };
}

#[test]
fn a_callback_returning_with_a_spin_lock_held_is_a_violation() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    *HOLD_LOCK.lock().unwrap() = Box::leak(Box::new(0usize)) as *mut usize as usize;
    let mut c = timer_chars(Some(timer_keeps_lock), 0);
    let mut t: n::NDIS_HANDLE = std::ptr::null_mut();
    // SAFETY: valid characteristics.
    unsafe { n::NdisAllocateTimerObject(s.adapter(), &mut c, &mut t) };
    // SAFETY: our timer.
    unsafe { n::NdisSetTimerObject(t, -1, 0, std::ptr::null_mut()) };
    assert!(wait_until(|| h.ndis().checks.violation_count() > 0));
    let v = h.expect_violation(Kind::SpinLock);
    assert!(v.message.contains("returned holding"), "{v}");
    // SAFETY: our timer (fired, not set).
    unsafe { n::NdisFreeTimerObject(t) };
}

static WORK_IRQL: AtomicU32 = AtomicU32::new(99);
static WORK_THREAD: Mutex<String> = Mutex::new(String::new());
static WORK_RUNS: AtomicU32 = AtomicU32::new(0);

unsafe extern "system" fn work_fn(ctx: n::PVOID, _h: n::NDIS_HANDLE) {
    WORK_IRQL.store(u32::from(irql()), Ordering::SeqCst);
    *WORK_THREAD.lock().unwrap() = std::thread::current().name().unwrap_or("").to_string();
    WORK_RUNS.fetch_add(ctx as u32, Ordering::SeqCst);
}

#[test]
fn io_work_items_run_at_passive_on_a_worker_and_double_queueing_is_detected() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    // SAFETY: valid adapter handle.
    let w = unsafe { n::NdisAllocateIoWorkItem(s.adapter()) };
    assert!(!w.is_null());
    // Queue from DISPATCH_LEVEL (allowed).
    let mut lk: n::KSPIN_LOCK = 0;
    // SAFETY: initialised lock.
    let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(&mut lk) };
    // SAFETY: our work item.
    unsafe { n::NdisQueueIoWorkItem(w, Some(work_fn), 1 as n::PVOID) };
    // SAFETY: release.
    unsafe { n::KeReleaseSpinLock(&mut lk, old) };
    assert!(wait_until(|| WORK_RUNS.load(Ordering::SeqCst) == 1));
    assert_eq!(
        WORK_IRQL.load(Ordering::SeqCst),
        u32::from(n::PASSIVE_LEVEL)
    );
    assert!(WORK_THREAD.lock().unwrap().starts_with("ndis-worker"));
    // Two queues before it runs: block the workers first with a slow item? Queue twice back to
    // back from one thread: the second may come before the routine starts.
    let mut hit = false;
    for _ in 0..50 {
        // SAFETY: our work item.
        unsafe { n::NdisQueueIoWorkItem(w, Some(work_fn), std::ptr::null_mut()) };
        // SAFETY: as above.
        unsafe { n::NdisQueueIoWorkItem(w, Some(work_fn), std::ptr::null_mut()) };
        if h.take_violations()
            .iter()
            .any(|v| v.kind == Kind::Scheduling)
        {
            hit = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(hit, "queueing a queued work item was never detected");
    assert!(h.wait_idle(T));
    // SAFETY: our work item, idle.
    unsafe { n::NdisFreeIoWorkItem(w) };
}

static SYNC_IRQL: AtomicU32 = AtomicU32::new(99);
static SYNC_NEST: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn sync_fn(ctx: n::NDIS_HANDLE) -> n::BOOLEAN {
    SYNC_IRQL.store(u32::from(irql()), Ordering::SeqCst);
    let ih = SYNC_NEST.swap(0, Ordering::SeqCst);
    if ih != 0 {
        // SAFETY: nested synchronisation on the same message (deliberately).
        let r = unsafe {
            n::NdisMSynchronizeWithInterruptEx(ih as n::NDIS_HANDLE, 0, Some(sync_fn), ctx)
        };
        assert_eq!(r, n::FALSE);
    }
    n::TRUE
}

#[test]
fn synchronize_with_interrupt_runs_at_dirql_and_nesting_is_detected() {
    let (entry, s) = driver(intr_cfg());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    let ih = s.interrupt.load(Ordering::SeqCst);
    // SAFETY: our interrupt, a valid routine.
    let r = unsafe {
        n::NdisMSynchronizeWithInterruptEx(
            ih as n::NDIS_HANDLE,
            0,
            Some(sync_fn),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, n::TRUE);
    assert_eq!(
        SYNC_IRQL.load(Ordering::SeqCst),
        u32::from(ndis_emu::ctx::DIRQL)
    );
    assert_eq!(irql(), n::PASSIVE_LEVEL);
    SYNC_NEST.store(ih, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe {
        n::NdisMSynchronizeWithInterruptEx(
            ih as n::NDIS_HANDLE,
            0,
            Some(sync_fn),
            std::ptr::null_mut(),
        )
    };
    assert!(h
        .expect_violation(Kind::Interrupt)
        .message
        .contains("deadlock"));
}

#[test]
fn processor_and_time_queries_follow_the_emulated_machine() {
    let emu = EmuConfig {
        cpus: 3,
        ..Default::default()
    };
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.load(entry).unwrap();
    h.set_cpu(2);
    // SAFETY: plain queries.
    unsafe {
        assert_eq!(n::NdisGroupActiveProcessorCount(0), 3);
    }
    assert_eq!(
        // SAFETY: as above.
        unsafe { n::KeQueryActiveProcessorCountEx(n::ALL_PROCESSOR_GROUPS) },
        3
    );
    // SAFETY: as above.
    assert_eq!(unsafe { n::NdisGroupActiveProcessorMask(0) }, 0b111);
    // SAFETY: as above.
    assert_eq!(unsafe { n::NdisCurrentGroupAndProcessor() }.Number, 2);
    let mut mask: n::KAFFINITY = 0;
    // SAFETY: valid out-parameter.
    assert_eq!(unsafe { n::NdisSystemActiveProcessorCount(&mut mask) }, 3);
    let mut f: i64 = 0;
    // SAFETY: valid out-parameter.
    let c1 = unsafe { n::KeQueryPerformanceCounter(&mut f) };
    std::thread::sleep(Duration::from_millis(10));
    // SAFETY: NULL frequency is allowed.
    let c2 = unsafe { n::KeQueryPerformanceCounter(std::ptr::null_mut()) };
    assert_eq!(f, 10_000_000);
    assert!(c2 - c1 >= 100_000, "10 ms = 100000 ticks of 100 ns");
    let mut up: i64 = 0;
    // SAFETY: valid out-parameter.
    unsafe { n::NdisGetSystemUpTimeEx(&mut up) };
    assert!(up >= 0);
    let mut st: i64 = 0;
    // SAFETY: valid out-parameter.
    unsafe { n::KeQuerySystemTimePrecise(&mut st) };
    // 2020-01-01 in 100 ns units since 1601.
    assert!(st > 132_223_104_000_000_000);
}

static BURN: AtomicU64 = AtomicU64::new(0);

unsafe extern "system" fn burn_timer(_s1: n::PVOID, _ctx: n::PVOID, _s2: n::PVOID, _s3: n::PVOID) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_millis(20) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    BURN.store(x | 1, Ordering::SeqCst);
}

#[test]
fn accounting_charges_driver_cpu_time_to_the_handler() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    h.reset_accounting();
    let mut c = timer_chars(Some(burn_timer), 0);
    let mut t: n::NDIS_HANDLE = std::ptr::null_mut();
    // SAFETY: valid characteristics.
    unsafe { n::NdisAllocateTimerObject(s.adapter(), &mut c, &mut t) };
    // SAFETY: our timer.
    unsafe { n::NdisSetTimerObject(t, -1, 0, std::ptr::null_mut()) };
    assert!(wait_until(|| BURN.load(Ordering::SeqCst) != 0));
    assert!(wait_until(|| h.accounting().get(Handler::Timer).calls == 1));
    let st = h.accounting().get(Handler::Timer);
    // 20 ms of wall time spinning: most of it is CPU time on a 2-core machine shared with other
    // work, so demand only a conservative share.
    assert!(st.cpu_ns >= 2_000_000, "{st:?}");
    assert!(st.wall_ns >= 20_000_000, "{st:?}");
    // SAFETY: our timer.
    unsafe { n::NdisFreeTimerObject(t) };
}

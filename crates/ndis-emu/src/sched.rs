//! Synchronisation and scheduling DDIs: spin locks (NDIS and Ke forms), RW locks, events,
//! timer objects, IO work items, sleeps and stalls, time, processor numbers.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ndis_sys as n;

use crate::accounting::Handler;
use crate::checks::{self, Kind};
use crate::ctx::{self, Role, TOKEN_TAG};
use crate::handles::{self, Obj};
use crate::ndis::{guard, lock, Ndis};
use crate::track::{Res, ResKind};

// ---------------------------------------------------------------------------------------------
// Spin locks

/// How long a spin-lock acquisition may spin before it is reported as a deadlock.
const SPIN_REPORT: Duration = Duration::from_secs(10);

fn lock_word(p: *mut n::KSPIN_LOCK) -> Option<&'static AtomicU64> {
    if p.is_null() || !(p as usize).is_multiple_of(8) {
        return None;
    }
    // SAFETY: non-null and aligned; the driver's KSPIN_LOCK is a pointer-sized word it keeps
    // alive while using the lock, and all access to it goes through these atomics.
    Some(unsafe { AtomicU64::from_ptr(p.cast::<u64>()) })
}

/// Acquires the spin lock word at `p` for this thread (IRQL already raised by the caller).
fn spin_acquire(p: *mut n::KSPIN_LOCK, api: &'static str) {
    let Some(w) = lock_word(p) else {
        checks::violation(Kind::SpinLock, api, format!("bad spin lock address {p:p}"));
        return;
    };
    let me = ctx::token();
    let start = Instant::now();
    let mut spins = 0u32;
    let mut reported = false;
    loop {
        match w.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => break,
            Err(cur) if cur == me => {
                checks::violation(
                    Kind::SpinLock,
                    api,
                    format!("recursive acquisition of spin lock {p:p} (deadlocks on Windows)"),
                );
                return;
            }
            Err(cur) if cur != 0 && cur & 0xFFFF_FFFF_0000_0000 != TOKEN_TAG => {
                checks::violation(
                    Kind::SpinLock,
                    api,
                    format!("spin lock {p:p} holds {cur:#x}: not initialised (KeInitializeSpinLock / NdisAllocateSpinLock)"),
                );
                return;
            }
            Err(_) => {
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(128) {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                if !reported && start.elapsed() > SPIN_REPORT {
                    reported = true;
                    checks::violation(
                        Kind::SpinLock,
                        api,
                        format!("spun {SPIN_REPORT:?} on spin lock {p:p}: deadlock?"),
                    );
                }
            }
        }
    }
    ctx::push_lock(p as usize);
}

fn spin_release(p: *mut n::KSPIN_LOCK, api: &'static str) {
    let Some(w) = lock_word(p) else {
        checks::violation(Kind::SpinLock, api, format!("bad spin lock address {p:p}"));
        return;
    };
    let me = ctx::token();
    let cur = w.load(Ordering::Relaxed);
    if cur != me {
        checks::violation(
            Kind::SpinLock,
            api,
            if cur == 0 {
                format!("release of spin lock {p:p} that is not held")
            } else {
                format!("release of spin lock {p:p} held by another thread")
            },
        );
        return;
    }
    ctx::pop_lock(p as usize);
    w.store(0, Ordering::Release);
}

fn raise_to_dispatch(api: &'static str) -> n::KIRQL {
    checks::irql_at_most(n::DISPATCH_LEVEL, api);
    ctx::raise(n::DISPATCH_LEVEL)
}

fn lower_to(old: n::KIRQL, api: &'static str) {
    if old > n::DISPATCH_LEVEL {
        checks::violation(
            Kind::Irql,
            api,
            format!("restoring IRQL {old} > DISPATCH_LEVEL"),
        );
        return;
    }
    if !ctx::lower(old) {
        checks::violation(
            Kind::Irql,
            api,
            format!("lowering IRQL to {old} inside a DPC/ISR (saved IRQL does not belong to this context)"),
        );
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeAcquireSpinLockRaiseToDpc(
    SpinLock: *mut n::KSPIN_LOCK,
) -> n::KIRQL {
    const API: &str = "KeAcquireSpinLockRaiseToDpc";
    guard(API, n::DISPATCH_LEVEL, || {
        let old = raise_to_dispatch(API);
        spin_acquire(SpinLock, API);
        old
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeReleaseSpinLock(
    SpinLock: *mut n::KSPIN_LOCK,
    NewIrql: n::KIRQL,
) {
    const API: &str = "KeReleaseSpinLock";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        spin_release(SpinLock, API);
        lower_to(NewIrql, API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeAcquireSpinLockAtDpcLevel(SpinLock: *mut n::KSPIN_LOCK) {
    const API: &str = "KeAcquireSpinLockAtDpcLevel";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        spin_acquire(SpinLock, API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeReleaseSpinLockFromDpcLevel(SpinLock: *mut n::KSPIN_LOCK) {
    const API: &str = "KeReleaseSpinLockFromDpcLevel";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        spin_release(SpinLock, API);
    })
}

fn ndis_lock_word(l: *mut n::NDIS_SPIN_LOCK) -> *mut n::KSPIN_LOCK {
    // `SpinLock` is the first field of NDIS_SPIN_LOCK.
    l.cast()
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisAllocateSpinLock";
    guard(API, (), || {
        if SpinLock.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL spin lock");
            return;
        }
        // SAFETY: non-null; the driver passes storage for an NDIS_SPIN_LOCK.
        unsafe {
            SpinLock.write(n::NDIS_SPIN_LOCK {
                SpinLock: 0,
                OldIrql: 0,
            })
        };
        if let Some(ndis) = ctx::current_ndis() {
            ndis.track.add(
                SpinLock as usize,
                Res {
                    kind: ResKind::SpinLock,
                    owner: ctx::adapter(),
                    size: 0,
                    tag: 0,
                    what: API,
                },
            );
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisFreeSpinLock";
    guard(API, (), || {
        let Some(ndis) = ctx::current_ndis() else {
            return;
        };
        if let Some(w) = lock_word(ndis_lock_word(SpinLock)) {
            if w.load(Ordering::Relaxed) != 0 {
                ndis.checks.violation(
                    Kind::SpinLock,
                    API,
                    format!("freeing held spin lock {SpinLock:p}"),
                );
            }
        }
        if ndis
            .track
            .remove(ResKind::SpinLock, SpinLock as usize)
            .is_none()
        {
            ndis.checks.warning(
                Kind::SpinLock,
                API,
                format!(
                    "{SpinLock:p} was not initialised with NdisAllocateSpinLock (or freed twice)"
                ),
            );
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAcquireSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisAcquireSpinLock";
    guard(API, (), || {
        let old = raise_to_dispatch(API);
        spin_acquire(ndis_lock_word(SpinLock), API);
        if !SpinLock.is_null() {
            // SAFETY: non-null NDIS_SPIN_LOCK now owned by this thread.
            unsafe { (*SpinLock).OldIrql = old };
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisReleaseSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisReleaseSpinLock";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        if SpinLock.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL spin lock");
            return;
        }
        // SAFETY: non-null NDIS_SPIN_LOCK owned by this thread (checked by spin_release).
        let old = unsafe { (*SpinLock).OldIrql };
        spin_release(ndis_lock_word(SpinLock), API);
        lower_to(old, API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisDprAcquireSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisDprAcquireSpinLock";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        spin_acquire(ndis_lock_word(SpinLock), API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisDprReleaseSpinLock(SpinLock: *mut n::NDIS_SPIN_LOCK) {
    const API: &str = "NdisDprReleaseSpinLock";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        spin_release(ndis_lock_word(SpinLock), API);
    })
}

// ---------------------------------------------------------------------------------------------
// RW locks

/// An `NDIS_RW_LOCK_EX` (opaque to the driver).
pub(crate) struct RwLockObj {
    /// Bit 63: writer; low bits: readers.
    state: AtomicU64,
    writer: AtomicU64,
    owner: usize,
}

const WRITER: u64 = 1 << 63;

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateRWLock(
    NdisHandle: n::NDIS_HANDLE,
) -> *mut n::NDIS_RW_LOCK_EX {
    const API: &str = "NdisAllocateRWLock";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return std::ptr::null_mut();
        };
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let l = Arc::new(RwLockObj {
            state: AtomicU64::new(0),
            writer: AtomicU64::new(0),
            owner,
        });
        let h = Arc::as_ptr(&l) as usize;
        handles::insert(&ndis, h, Obj::RwLock(l));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::RwLock,
                owner,
                size: 0,
                tag: 0,
                what: API,
            },
        );
        h as *mut n::NDIS_RW_LOCK_EX
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeRWLock(Lock: *mut n::NDIS_RW_LOCK_EX) {
    const API: &str = "NdisFreeRWLock";
    guard(API, (), || {
        let Some((ndis, l)) = handles::rw_lock(Lock.cast(), API) else {
            return;
        };
        if l.state.load(Ordering::SeqCst) != 0 {
            ndis.checks
                .violation(Kind::SpinLock, API, "freeing an RW lock that is held");
        }
        let _ = l.owner;
        handles::remove(Lock as usize);
        ndis.track.remove(ResKind::RwLock, Lock as usize);
    })
}

fn rw_acquire(
    lock_p: *mut n::NDIS_RW_LOCK_EX,
    state: *mut n::LOCK_STATE_EX,
    flags: u8,
    write: bool,
    api: &'static str,
) {
    let Some((_ndis, l)) = handles::rw_lock(lock_p.cast(), api) else {
        return;
    };
    if state.is_null() {
        checks::violation(Kind::BadParameter, api, "NULL LOCK_STATE_EX");
        return;
    }
    let old = if flags & n::NDIS_RWL_AT_DISPATCH_LEVEL != 0 {
        checks::irql_exactly(n::DISPATCH_LEVEL, api);
        n::DISPATCH_LEVEL
    } else {
        raise_to_dispatch(api)
    };
    let me = ctx::token();
    if l.writer.load(Ordering::Relaxed) == me {
        checks::violation(
            Kind::SpinLock,
            api,
            "RW lock acquired again by the thread holding it for write",
        );
        return;
    }
    let start = Instant::now();
    let mut reported = false;
    loop {
        let s = l.state.load(Ordering::Relaxed);
        let ok = if write {
            s == 0
                && l.state
                    .compare_exchange_weak(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        } else {
            s & WRITER == 0
                && l.state
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        };
        if ok {
            break;
        }
        std::hint::spin_loop();
        if !reported && start.elapsed() > SPIN_REPORT {
            reported = true;
            checks::violation(Kind::SpinLock, api, "spun 10 s on an RW lock: deadlock?");
        }
    }
    if write {
        l.writer.store(me, Ordering::Relaxed);
    }
    // SAFETY: non-null LOCK_STATE_EX owned by the caller for the hold.
    unsafe {
        state.write(n::LOCK_STATE_EX {
            OldIrql: old,
            LockState: if write { 2 } else { 1 },
            Flags: flags,
        })
    };
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAcquireRWLockRead(
    Lock: *mut n::NDIS_RW_LOCK_EX,
    LockState: *mut n::LOCK_STATE_EX,
    Flags: n::UCHAR,
) {
    guard("NdisAcquireRWLockRead", (), || {
        rw_acquire(Lock, LockState, Flags, false, "NdisAcquireRWLockRead")
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAcquireRWLockWrite(
    Lock: *mut n::NDIS_RW_LOCK_EX,
    LockState: *mut n::LOCK_STATE_EX,
    Flags: n::UCHAR,
) {
    guard("NdisAcquireRWLockWrite", (), || {
        rw_acquire(Lock, LockState, Flags, true, "NdisAcquireRWLockWrite")
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisReleaseRWLock(
    Lock: *mut n::NDIS_RW_LOCK_EX,
    LockState: *mut n::LOCK_STATE_EX,
) {
    const API: &str = "NdisReleaseRWLock";
    guard(API, (), || {
        let Some((_ndis, l)) = handles::rw_lock(Lock.cast(), API) else {
            return;
        };
        if LockState.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL LOCK_STATE_EX");
            return;
        }
        // SAFETY: non-null LOCK_STATE_EX filled by the matching acquire.
        let st = unsafe { LockState.read() };
        match st.LockState {
            2 => {
                if l.writer.load(Ordering::Relaxed) != ctx::token() {
                    checks::violation(
                        Kind::SpinLock,
                        API,
                        "write lock released by a thread that does not hold it",
                    );
                }
                l.writer.store(0, Ordering::Relaxed);
                l.state.fetch_and(!WRITER, Ordering::Release);
            }
            1 => {
                let prev = l.state.fetch_sub(1, Ordering::Release);
                if prev & !WRITER == 0 {
                    l.state.fetch_add(1, Ordering::Relaxed);
                    checks::violation(
                        Kind::SpinLock,
                        API,
                        "read lock released but no reader holds it",
                    );
                }
            }
            s => {
                checks::violation(
                    Kind::SpinLock,
                    API,
                    format!("LOCK_STATE_EX.LockState {s}: not from an acquire"),
                );
                return;
            }
        }
        if st.Flags & n::NDIS_RWL_AT_DISPATCH_LEVEL == 0 {
            lower_to(st.OldIrql, API);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Events (notification events; state kept in the driver's NDIS_EVENT storage)

const EVENT_MAGIC: u64 = 0x4E44_4953_4556_4E54; // "NDISEVNT"

static EVENT_WAKE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

fn event_words(
    e: n::PNDIS_EVENT,
    api: &'static str,
    init: bool,
) -> Option<(&'static AtomicU64, &'static AtomicU64)> {
    if e.is_null() || !(e as usize).is_multiple_of(8) {
        checks::violation(
            Kind::BadParameter,
            api,
            format!("bad NDIS_EVENT address {e:p}"),
        );
        return None;
    }
    let base = e.cast::<u64>();
    // SAFETY: non-null, aligned; NDIS_EVENT is 24 bytes of driver storage, the first two words
    // are used as atomics for as long as the driver keeps the event.
    let magic = unsafe { AtomicU64::from_ptr(base) };
    // SAFETY: as above, second word (offset 8 < 24).
    let state = unsafe { AtomicU64::from_ptr(base.wrapping_add(1)) };
    if !init && magic.load(Ordering::Relaxed) != EVENT_MAGIC {
        checks::violation(
            Kind::BadParameter,
            api,
            format!("NDIS_EVENT {e:p} was not initialised (NdisInitializeEvent)"),
        );
        return None;
    }
    Some((magic, state))
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisInitializeEvent(Event: n::PNDIS_EVENT) {
    guard("NdisInitializeEvent", (), || {
        if let Some((m, s)) = event_words(Event, "NdisInitializeEvent", true) {
            s.store(0, Ordering::SeqCst);
            m.store(EVENT_MAGIC, Ordering::SeqCst);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisSetEvent(Event: n::PNDIS_EVENT) {
    const API: &str = "NdisSetEvent";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((_, s)) = event_words(Event, API, false) {
            let _g = lock(&EVENT_WAKE.0);
            s.store(1, Ordering::SeqCst);
            EVENT_WAKE.1.notify_all();
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisResetEvent(Event: n::PNDIS_EVENT) {
    const API: &str = "NdisResetEvent";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((_, s)) = event_words(Event, API, false) {
            s.store(0, Ordering::SeqCst);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisWaitEvent(
    Event: n::PNDIS_EVENT,
    MsToWait: n::UINT,
) -> n::BOOLEAN {
    const API: &str = "NdisWaitEvent";
    guard(API, n::FALSE, || {
        if !checks::may_block(API) {
            return n::FALSE;
        }
        let Some((_, s)) = event_words(Event, API, false) else {
            return n::FALSE;
        };
        let deadline =
            (MsToWait != 0).then(|| Instant::now() + Duration::from_millis(MsToWait.into()));
        let mut g = lock(&EVENT_WAKE.0);
        loop {
            if s.load(Ordering::SeqCst) != 0 {
                return n::TRUE;
            }
            let wait = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return n::FALSE;
                    }
                    (d - now).min(Duration::from_millis(100))
                }
                None => Duration::from_millis(100),
            };
            g = EVENT_WAKE
                .1
                .wait_timeout(g, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Timer objects

struct TimerState {
    armed: bool,
    gen: u64,
    ctx: usize,
}

/// An NDIS timer object.
pub(crate) struct TimerObj {
    func: n::NDIS_TIMER_FUNCTION,
    default_ctx: usize,
    owner: usize,
    st: Mutex<TimerState>,
    running: AtomicU32,
    fired: AtomicU64,
}

fn arm(ndis: &Ndis, t: &Arc<TimerObj>, gen: u64, due: Instant, period: Option<Duration>, cpu: u32) {
    let t2 = t.clone();
    ndis.rt.at(
        due,
        Box::new(move |ndis: &Arc<Ndis>| {
            let ctx_val = {
                let mut st = lock(&t2.st);
                if !st.armed || st.gen != gen {
                    return;
                }
                match period {
                    Some(p) => arm(ndis, &t2, gen, due + p, period, cpu),
                    None => st.armed = false,
                }
                st.ctx
            };
            let t3 = t2.clone();
            ndis.rt.queue_dpc(
                cpu,
                Box::new(move |ndis: &Arc<Ndis>| {
                    let Some(f) = t3.func else { return };
                    t3.running.fetch_add(1, Ordering::SeqCst);
                    ndis.call_driver(Handler::Timer, t3.owner, || {
                        // SAFETY: the driver's timer function with the context of the set call, at
                        // DISPATCH_LEVEL; SystemSpecific arguments are reserved (NULL).
                        unsafe {
                            f(
                                std::ptr::null_mut(),
                                ctx_val as n::PVOID,
                                std::ptr::null_mut(),
                                std::ptr::null_mut(),
                            )
                        }
                    });
                    t3.fired.fetch_add(1, Ordering::SeqCst);
                    t3.running.fetch_sub(1, Ordering::SeqCst);
                }),
            );
        }),
    );
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateTimerObject(
    NdisHandle: n::NDIS_HANDLE,
    TimerCharacteristics: n::PNDIS_TIMER_CHARACTERISTICS,
    pTimerObject: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisAllocateTimerObject";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if TimerCharacteristics.is_null() || pTimerObject.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL characteristics or output");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null characteristics from the driver.
        let c = unsafe { TimerCharacteristics.read() };
        if c.Header.Type != n::NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS
            || c.Header.Revision < n::NDIS_TIMER_CHARACTERISTICS_REVISION_1
            || c.Header.Size < n::NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1
        {
            ndis.checks.violation(
                Kind::BadHeader,
                API,
                format!(
                    "header {:?} (want type {:#x} rev 1 size 24)",
                    c.Header,
                    n::NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS
                ),
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if c.TimerFunction.is_none() {
            ndis.checks
                .violation(Kind::BadParameter, API, "TimerFunction is NULL");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let t = Arc::new(TimerObj {
            func: c.TimerFunction,
            default_ctx: c.FunctionContext as usize,
            owner,
            st: Mutex::new(TimerState {
                armed: false,
                gen: 0,
                ctx: c.FunctionContext as usize,
            }),
            running: AtomicU32::new(0),
            fired: AtomicU64::new(0),
        });
        let h = Arc::as_ptr(&t) as usize;
        handles::insert(&ndis, h, Obj::Timer(t));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::Timer,
                owner,
                size: 0,
                tag: c.AllocationTag,
                what: API,
            },
        );
        // SAFETY: non-null output.
        unsafe { *pTimerObject = h as n::NDIS_HANDLE };
        n::NDIS_STATUS_SUCCESS
    })
}

/// 100-ns units since 1601-01-01 (`KeQuerySystemTime`).
fn system_time_100ns() -> i64 {
    const EPOCH_DIFF_100NS: i64 = 116_444_736_000_000_000;
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    EPOCH_DIFF_100NS + (d.as_nanos() / 100) as i64
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisSetTimerObject(
    TimerObject: n::NDIS_HANDLE,
    DueTime: n::LARGE_INTEGER,
    MillisecondsPeriod: n::LONG,
    FunctionContext: n::PVOID,
) -> n::BOOLEAN {
    const API: &str = "NdisSetTimerObject";
    guard(API, n::FALSE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, t)) = handles::timer(TimerObject, API) else {
            return n::FALSE;
        };
        if MillisecondsPeriod < 0 {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                format!("negative period {MillisecondsPeriod}"),
            );
            return n::FALSE;
        }
        let delay = if DueTime < 0 {
            Duration::from_nanos(DueTime.unsigned_abs().saturating_mul(100))
        } else {
            Duration::from_nanos(DueTime.saturating_sub(system_time_100ns()).max(0) as u64 * 100)
        };
        let period =
            (MillisecondsPeriod > 0).then(|| Duration::from_millis(MillisecondsPeriod as u64));
        let cpu = ctx::cpu();
        let (was, gen) = {
            let mut st = lock(&t.st);
            let was = st.armed;
            st.gen += 1;
            st.armed = true;
            st.ctx = if FunctionContext.is_null() {
                t.default_ctx
            } else {
                FunctionContext as usize
            };
            (was, st.gen)
        };
        arm(&ndis, &t, gen, Instant::now() + delay, period, cpu);
        n::BOOLEAN::from(was)
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisCancelTimerObject(
    TimerObject: n::NDIS_HANDLE,
) -> n::BOOLEAN {
    const API: &str = "NdisCancelTimerObject";
    guard(API, n::FALSE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((_ndis, t)) = handles::timer(TimerObject, API) else {
            return n::FALSE;
        };
        let mut st = lock(&t.st);
        let was = st.armed;
        st.armed = false;
        st.gen += 1;
        n::BOOLEAN::from(was)
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeTimerObject(TimerObject: n::NDIS_HANDLE) {
    const API: &str = "NdisFreeTimerObject";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, t)) = handles::timer(TimerObject, API) else {
            return;
        };
        {
            let mut st = lock(&t.st);
            if st.armed {
                ndis.checks.violation(
                    Kind::Scheduling,
                    API,
                    "freeing a timer that is still set (cancel it first)",
                );
                st.armed = false;
                st.gen += 1;
            }
        }
        // A callback already queued or running must finish before the object goes away.
        let start = Instant::now();
        while t.running.load(Ordering::SeqCst) != 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_micros(100));
        }
        handles::remove(TimerObject as usize);
        ndis.track.remove(ResKind::Timer, TimerObject as usize);
    })
}

// ---------------------------------------------------------------------------------------------
// IO work items

/// An NDIS IO work item.
pub(crate) struct WorkItemObj {
    owner: usize,
    queued: AtomicBool,
    running: AtomicBool,
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateIoWorkItem(
    NdisObjectHandle: n::NDIS_HANDLE,
) -> n::NDIS_HANDLE {
    const API: &str = "NdisAllocateIoWorkItem";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisObjectHandle, API) else {
            return std::ptr::null_mut();
        };
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let w = Arc::new(WorkItemObj {
            owner,
            queued: AtomicBool::new(false),
            running: AtomicBool::new(false),
        });
        let h = Arc::as_ptr(&w) as usize;
        handles::insert(&ndis, h, Obj::WorkItem(w));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::WorkItem,
                owner,
                size: 0,
                tag: 0,
                what: API,
            },
        );
        h as n::NDIS_HANDLE
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisQueueIoWorkItem(
    NdisIoWorkItemHandle: n::NDIS_HANDLE,
    Routine: n::NDIS_IO_WORKITEM_ROUTINE,
    WorkItemContext: n::PVOID,
) {
    const API: &str = "NdisQueueIoWorkItem";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, w)) = handles::work_item(NdisIoWorkItemHandle, API) else {
            return;
        };
        let Some(routine) = Routine else {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL routine");
            return;
        };
        if w.queued.swap(true, Ordering::SeqCst) {
            ndis.checks.violation(
                Kind::Scheduling,
                API,
                "work item queued again before its routine ran",
            );
            return;
        }
        let (h, c) = (NdisIoWorkItemHandle as usize, WorkItemContext as usize);
        ndis.rt.queue_work(Box::new(move |ndis: &Arc<Ndis>| {
            w.running.store(true, Ordering::SeqCst);
            w.queued.store(false, Ordering::SeqCst);
            ndis.call_driver(Handler::WorkItem, w.owner, || {
                // SAFETY: the driver's work routine with its context and the work item handle, at
                // PASSIVE_LEVEL on a worker thread.
                unsafe { routine(c as n::PVOID, h as n::NDIS_HANDLE) }
            });
            w.running.store(false, Ordering::SeqCst);
        }));
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeIoWorkItem(NdisIoWorkItemHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisFreeIoWorkItem";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, w)) = handles::work_item(NdisIoWorkItemHandle, API) else {
            return;
        };
        if w.queued.load(Ordering::SeqCst) {
            ndis.checks
                .violation(Kind::Scheduling, API, "freeing a work item that is queued");
        }
        handles::remove(NdisIoWorkItemHandle as usize);
        ndis.track
            .remove(ResKind::WorkItem, NdisIoWorkItemHandle as usize);
    })
}

/// Work items of `owner` that are queued or running (Halt check).
pub(crate) fn busy_work_items(ndis: &Ndis, owner: usize) -> usize {
    ndis.track
        .owned_by(Some(owner))
        .into_iter()
        .filter(|(_, r)| r.kind == ResKind::WorkItem)
        .filter_map(|(h, _)| match handles::lookup(h) {
            Some((_, Obj::WorkItem(w))) => Some(w),
            _ => None,
        })
        .filter(|w| w.queued.load(Ordering::SeqCst) || w.running.load(Ordering::SeqCst))
        .count()
}

/// Timers of `owner` still set (Halt check).
pub(crate) fn armed_timers(ndis: &Ndis, owner: usize) -> usize {
    ndis.track
        .owned_by(Some(owner))
        .into_iter()
        .filter(|(_, r)| r.kind == ResKind::Timer)
        .filter_map(|(h, _)| match handles::lookup(h) {
            Some((_, Obj::Timer(t))) => Some(t),
            _ => None,
        })
        .filter(|t| lock(&t.st).armed)
        .count()
}

// ---------------------------------------------------------------------------------------------
// Sleeping, stalling, time

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMSleep(MicrosecondsToSleep: n::ULONG) {
    const API: &str = "NdisMSleep";
    guard(API, (), || {
        if !checks::may_block(API) {
            return;
        }
        std::thread::sleep(Duration::from_micros(MicrosecondsToSleep.into()));
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeStallExecutionProcessor(MicroSeconds: n::ULONG) {
    guard("KeStallExecutionProcessor", (), || {
        if MicroSeconds > 50 {
            checks::warning(
                Kind::Scheduling,
                "KeStallExecutionProcessor",
                format!("stall of {MicroSeconds} µs (the WDK advises at most 50)"),
            );
        }
        let end = Instant::now() + Duration::from_micros(MicroSeconds.into());
        while Instant::now() < end {
            std::hint::spin_loop();
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGetSystemUpTimeEx(pSystemUpTime: *mut n::LARGE_INTEGER) {
    guard("NdisGetSystemUpTimeEx", (), || {
        let ms = ctx::current_ndis().map_or(0, |n| n.uptime().as_millis() as i64);
        if !pSystemUpTime.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *pSystemUpTime = ms };
        }
    })
}

static QPC_BASE: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// `KeQueryPerformanceCounter` frequency (10 MHz, as on current Windows).
pub const QPC_FREQUENCY: i64 = 10_000_000;

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeQueryPerformanceCounter(
    PerformanceFrequency: *mut n::LARGE_INTEGER,
) -> n::LARGE_INTEGER {
    guard("KeQueryPerformanceCounter", 0, || {
        if !PerformanceFrequency.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *PerformanceFrequency = QPC_FREQUENCY };
        }
        (QPC_BASE.elapsed().as_nanos() / 100) as i64
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeQuerySystemTimePrecise(CurrentTime: *mut n::LARGE_INTEGER) {
    guard("KeQuerySystemTimePrecise", (), || {
        if !CurrentTime.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *CurrentTime = system_time_100ns() };
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeFlushQueuedDpcs() {
    const API: &str = "KeFlushQueuedDpcs";
    guard(API, (), || {
        if !checks::may_block(API) {
            return;
        }
        if let Some(ndis) = ctx::current_ndis() {
            if !ndis.rt.flush_dpcs(ndis.cfg.op_timeout) {
                ndis.checks
                    .violation(Kind::Scheduling, API, "queued DPCs did not drain");
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Processors

fn cpus() -> u32 {
    ctx::current_ndis().map_or(1, |n| n.cpu_count())
}

fn mask() -> n::KAFFINITY {
    let c = cpus().min(usize::BITS);
    if c >= usize::BITS {
        usize::MAX
    } else {
        (1usize << c) - 1
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGroupActiveProcessorCount(Group: n::USHORT) -> n::ULONG {
    guard("NdisGroupActiveProcessorCount", 0, || {
        if Group == 0 || Group == n::ALL_PROCESSOR_GROUPS {
            cpus()
        } else {
            0
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGroupMaxProcessorCount(Group: n::USHORT) -> n::ULONG {
    guard("NdisGroupMaxProcessorCount", 0, || {
        if Group == 0 || Group == n::ALL_PROCESSOR_GROUPS {
            cpus()
        } else {
            0
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGroupActiveProcessorMask(
    Group: n::USHORT,
) -> n::KAFFINITY {
    guard("NdisGroupActiveProcessorMask", 0, || {
        if Group == 0 {
            mask()
        } else {
            0
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisCurrentGroupAndProcessor() -> n::PROCESSOR_NUMBER {
    guard(
        "NdisCurrentGroupAndProcessor",
        n::PROCESSOR_NUMBER::default(),
        || n::PROCESSOR_NUMBER {
            Group: 0,
            Number: ctx::cpu() as u8,
            Reserved: 0,
        },
    )
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisSystemActiveProcessorCount(
    ActiveProcessors: *mut n::KAFFINITY,
) -> n::ULONG {
    guard("NdisSystemActiveProcessorCount", 0, || {
        if !ActiveProcessors.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *ActiveProcessors = mask() };
        }
        cpus()
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeGetCurrentProcessorNumberEx(
    ProcNumber: *mut n::PROCESSOR_NUMBER,
) -> n::ULONG {
    guard("KeGetCurrentProcessorNumberEx", 0, || {
        let c = ctx::cpu();
        if !ProcNumber.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe {
                *ProcNumber = n::PROCESSOR_NUMBER {
                    Group: 0,
                    Number: c as u8,
                    Reserved: 0,
                }
            };
        }
        c
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeQueryActiveProcessorCountEx(
    GroupNumber: n::USHORT,
) -> n::ULONG {
    guard("KeQueryActiveProcessorCountEx", 0, || {
        if GroupNumber == 0 || GroupNumber == n::ALL_PROCESSOR_GROUPS {
            cpus()
        } else {
            0
        }
    })
}

/// `KeGetCurrentIrql`: inline (`mov cr8`) in the x64 WDK, but also an ntoskrnl export; the host
/// build of a driver may call it to learn the emulated IRQL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KeGetCurrentIrql() -> n::KIRQL {
    ctx::irql()
}

/// Whether the thread is one of the emulator's DPC threads (tests).
pub fn in_dpc() -> bool {
    ctx::role() == Role::Dpc
}

/// A lock with an owner token, used for interrupt spin locks (recursion is detected instead of
/// deadlocking).
pub(crate) struct OwnerLock {
    owner: AtomicU64,
    waiters: AtomicUsize,
}

impl OwnerLock {
    pub(crate) const fn new() -> Self {
        OwnerLock {
            owner: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
        }
    }
    /// Acquires; `false` if this thread already holds it.
    pub(crate) fn acquire(&self) -> bool {
        let me = ctx::token();
        if self.owner.load(Ordering::Relaxed) == me {
            return false;
        }
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let mut spins = 0u32;
        while self
            .owner
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(128) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        true
    }
    pub(crate) fn release(&self) {
        self.owner.store(0, Ordering::Release);
    }
}

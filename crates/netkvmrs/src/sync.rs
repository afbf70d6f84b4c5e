//! The two locks the miniport uses.
//!
//! * [`SpinLock`] — a kernel spin lock (`KSPIN_LOCK`, acquired with `KeAcquireSpinLockRaiseToDpc`, or
//!   `KeAcquireSpinLockAtDpcLevel` from code already at DISPATCH_LEVEL). Usable at IRQL <= DISPATCH_LEVEL;
//!   the holder runs at DISPATCH_LEVEL, so it must not allocate shared memory, wait on events or sleep.
//!   `KeInitializeSpinLock` is an inline store of 0 on x64, so a lock is a zeroed word that may be moved
//!   until first use and needs no free.
//! * [`PassiveMutex`] — a lock for work that must run at PASSIVE_LEVEL while holding it (device bring-up,
//!   reset, power transitions: they allocate shared memory with `NdisMAllocateSharedMemory` and wait on the
//!   device). PASSIVE_LEVEL callers block with [`PassiveMutex::lock`] (sleeping in `NdisMSleep` steps);
//!   code at DISPATCH_LEVEL may only [`PassiveMutex::try_lock`] and must defer (pend the OID, let the control
//!   worker do it) when the lock is taken. It never raises the IRQL.
//!
//! Neither lock is re-entrant; the lock order of the adapter is documented in `adapter`.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use ndis_sys as n;

/// A value protected by a kernel spin lock.
pub struct SpinLock<T> {
    lock: UnsafeCell<n::KSPIN_LOCK>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reachable through a guard, and guards are handed out one at a time by the
// kernel spin lock, so `T: Send` suffices for sharing the lock between CPUs.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock (`KeInitializeSpinLock` = store 0).
    pub const fn new(value: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock at IRQL <= DISPATCH_LEVEL, raising to DISPATCH_LEVEL until the guard drops.
    pub fn lock(&self) -> SpinGuard<'_, T> {
        // SAFETY: `self.lock` is a KSPIN_LOCK initialised to 0 that lives as long as `self`; the guard
        // releases it with the IRQL returned here.
        let old = unsafe { n::KeAcquireSpinLockRaiseToDpc(self.lock.get()) };
        SpinGuard {
            lock: self,
            old_irql: Some(old),
        }
    }

    /// Acquires the lock from code that already runs at DISPATCH_LEVEL (DPCs, timers, send/return
    /// handlers called with the DISPATCH flag): skips the IRQL raise.
    ///
    /// # Safety
    /// The caller runs at DISPATCH_LEVEL (`KeAcquireSpinLockAtDpcLevel` requirement).
    pub unsafe fn lock_at_dpc(&self) -> SpinGuard<'_, T> {
        // SAFETY: as in `lock`; the caller guarantees DISPATCH_LEVEL.
        unsafe { n::KeAcquireSpinLockAtDpcLevel(self.lock.get()) };
        SpinGuard {
            lock: self,
            old_irql: None,
        }
    }

    /// Exclusive access without locking (the borrow checker proves nobody else holds it).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Consumes the lock.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

/// Holds a [`SpinLock`]; releases it (and restores the IRQL) on drop.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    old_irql: Option<n::KIRQL>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        match self.old_irql {
            // SAFETY: the lock was acquired by `lock` with this IRQL and is released exactly once.
            Some(irql) => unsafe { n::KeReleaseSpinLock(self.lock.lock.get(), irql) },
            // SAFETY: acquired by `lock_at_dpc`; still at DISPATCH_LEVEL.
            None => unsafe { n::KeReleaseSpinLockFromDpcLevel(self.lock.lock.get()) },
        }
    }
}

/// A value protected by a flag that PASSIVE_LEVEL code waits on and DISPATCH_LEVEL code only tries.
pub struct PassiveMutex<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to the value is serialised by `busy` (acquire on lock, release on unlock).
unsafe impl<T: Send> Send for PassiveMutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for PassiveMutex<T> {}

/// Sleep between attempts of [`PassiveMutex::lock`], µs.
const PASSIVE_RETRY_US: u32 = 100;

impl<T> PassiveMutex<T> {
    /// Unlocked.
    pub const fn new(value: T) -> Self {
        Self {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock if it is free (any IRQL; never waits).
    pub fn try_lock(&self) -> Option<PassiveGuard<'_, T>> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| PassiveGuard { lock: self })
    }

    /// Waits for the lock. PASSIVE_LEVEL only (sleeps with `NdisMSleep`).
    pub fn lock(&self) -> PassiveGuard<'_, T> {
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            // SAFETY: callers are at PASSIVE_LEVEL (documented contract of this method).
            unsafe { n::NdisMSleep(PASSIVE_RETRY_US) };
        }
    }

    /// Whether somebody holds the lock right now (diagnostics only: the answer may be stale).
    pub fn is_locked(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// Exclusive access without locking.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// Holds a [`PassiveMutex`].
pub struct PassiveGuard<'a, T> {
    lock: &'a PassiveMutex<T>,
}

impl<T> Deref for PassiveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `busy` is held by this guard, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for PassiveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for PassiveGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.busy.store(false, Ordering::Release);
    }
}

/// A value written once (during InitializeEx, after callbacks may already run) and read lock-free
/// afterwards; taken back only with exclusive access (Halt).
pub struct SetOnce<T> {
    state: core::sync::atomic::AtomicU8,
    value: UnsafeCell<Option<T>>,
}

const ONCE_EMPTY: u8 = 0;
const ONCE_WRITING: u8 = 1;
const ONCE_READY: u8 = 2;

// SAFETY: the value is written by exactly one thread (the one that won EMPTY -> WRITING) before READY is
// published with release ordering; readers only read after observing READY (acquire). `T: Sync` is
// required because `&T` is handed to several threads at once.
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}
// SAFETY: moving the cell moves the value.
unsafe impl<T: Send> Send for SetOnce<T> {}

impl<T> SetOnce<T> {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            state: core::sync::atomic::AtomicU8::new(ONCE_EMPTY),
            value: UnsafeCell::new(None),
        }
    }

    /// Stores `v` if nothing was stored yet; gives it back otherwise.
    pub fn set(&self, v: T) -> Result<(), T> {
        if self
            .state
            .compare_exchange(
                ONCE_EMPTY,
                ONCE_WRITING,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(v);
        }
        // SAFETY: this thread won EMPTY -> WRITING, so it is the only writer and no reader looks at the
        // value before READY is published below.
        unsafe { *self.value.get() = Some(v) };
        self.state.store(ONCE_READY, Ordering::Release);
        Ok(())
    }

    /// The value, once stored.
    pub fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) != ONCE_READY {
            return None;
        }
        // SAFETY: READY was observed with acquire ordering, so the write is visible and finished; the
        // value is only mutated through `&mut self`.
        unsafe { (*self.value.get()).as_ref() }
    }

    /// Takes the value out (exclusive access proves no reader remains).
    pub fn take(&mut self) -> Option<T> {
        *self.state.get_mut() = ONCE_EMPTY;
        self.value.get_mut().take()
    }
}

impl<T> Default for SetOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

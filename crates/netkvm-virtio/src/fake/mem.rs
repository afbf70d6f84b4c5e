//! Fake "physical memory": one page-aligned arena; device address = `base` + offset.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::Mutex;
use std::vec::Vec;

use crate::hal::{DmaAllocError, DmaRegion, PAGE_SIZE};
use core::ptr::NonNull;

/// Why the fake device could not access memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadAddress {
    /// Device address.
    pub addr: u64,
    /// Length of the access.
    pub len: usize,
}

/// A page-granular first-fit allocator over one arena. Device addresses start at
/// `base` (non-zero, so a zero address from the driver is caught as a bad address).
#[derive(Debug)]
pub struct FakeMemory {
    ptr: NonNull<u8>,
    size: usize,
    base: u64,
    /// Allocated ranges in pages: (first page, page count).
    allocs: Mutex<Vec<(usize, usize)>>,
}

// SAFETY: the arena is a plain heap allocation owned by this struct; every access goes
// through bounds-checked methods (device side) or DmaRegions handed to one owner.
unsafe impl Send for FakeMemory {}
// SAFETY: as above; the allocation table is behind a Mutex.
unsafe impl Sync for FakeMemory {}

impl FakeMemory {
    /// An arena of `size` bytes (rounded up to pages) at device address `base`.
    pub fn new(size: usize, base: u64) -> Self {
        let size = size.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        let layout = Layout::from_size_align(size, PAGE_SIZE).expect("fake arena layout");
        // SAFETY: non-zero size, valid layout.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).expect("fake arena allocation");
        FakeMemory {
            ptr,
            size,
            base,
            allocs: Mutex::new(Vec::new()),
        }
    }

    /// Device address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Number of live allocations (leak checks in tests).
    pub fn live_allocations(&self) -> usize {
        self.allocs.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// Allocates `len` bytes, page aligned, zeroed.
    pub fn alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        let pages = len.div_ceil(PAGE_SIZE).max(1);
        let total = self.size / PAGE_SIZE;
        let mut allocs = self.allocs.lock().map_err(|_| DmaAllocError { len })?;
        allocs.sort_unstable();
        let mut start = 0usize;
        for &(s, n) in allocs.iter() {
            if s >= start + pages {
                break;
            }
            start = start.max(s + n);
        }
        if start + pages > total {
            return Err(DmaAllocError { len });
        }
        allocs.push((start, pages));
        let off = start * PAGE_SIZE;
        // SAFETY: off + pages*PAGE_SIZE ≤ size: inside the arena.
        let vaddr = unsafe { NonNull::new_unchecked(self.ptr.as_ptr().wrapping_add(off)) };
        // SAFETY: the range is inside the arena and was just reserved for this caller.
        unsafe { core::ptr::write_bytes(vaddr.as_ptr(), 0, pages * PAGE_SIZE) };
        Ok(DmaRegion {
            vaddr,
            paddr: self.base + off as u64,
            len: pages * PAGE_SIZE,
        })
    }

    /// Frees a region; returns false (and does nothing) for an unknown region — a double
    /// free shows up as `false` in tests.
    pub fn free(&self, region: DmaRegion) -> bool {
        let Some(off) = region.paddr.checked_sub(self.base) else {
            return false;
        };
        let page = off as usize / PAGE_SIZE;
        let Ok(mut allocs) = self.allocs.lock() else {
            return false;
        };
        if let Some(i) = allocs.iter().position(|&(s, _)| s == page) {
            allocs.swap_remove(i);
            true
        } else {
            false
        }
    }

    fn check(&self, addr: u64, len: usize) -> Result<usize, BadAddress> {
        let bad = BadAddress { addr, len };
        let off = addr.checked_sub(self.base).ok_or(bad)? as usize;
        let end = off.checked_add(len).ok_or(bad)?;
        if end > self.size {
            return Err(bad);
        }
        Ok(off)
    }

    /// Device read of `buf.len()` bytes at `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BadAddress> {
        let off = self.check(addr, buf.len())?;
        // SAFETY: off..off+len is inside the arena (checked).
        unsafe {
            core::ptr::copy(
                self.ptr.as_ptr().wrapping_add(off),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        Ok(())
    }

    /// Device write of `data` at `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), BadAddress> {
        let off = self.check(addr, data.len())?;
        // SAFETY: off..off+len is inside the arena (checked).
        unsafe {
            core::ptr::copy(
                data.as_ptr(),
                self.ptr.as_ptr().wrapping_add(off),
                data.len(),
            )
        };
        Ok(())
    }

    fn atomic16(&self, addr: u64) -> Result<&AtomicU16, BadAddress> {
        let off = self.check(addr, 2)?;
        if off % 2 != 0 {
            return Err(BadAddress { addr, len: 2 });
        }
        // SAFETY: in bounds and 2-aligned (arena is page aligned); lives as long as self.
        Ok(unsafe { AtomicU16::from_ptr(self.ptr.as_ptr().wrapping_add(off).cast()) })
    }

    /// Single aligned 16-bit load (ring indices).
    pub fn load16(&self, addr: u64) -> Result<u16, BadAddress> {
        Ok(self.atomic16(addr)?.load(Ordering::Acquire))
    }

    /// Single aligned 16-bit store (ring indices).
    pub fn store16(&self, addr: u64, v: u16) -> Result<(), BadAddress> {
        self.atomic16(addr)?.store(v, Ordering::Release);
        Ok(())
    }

    /// Single aligned 32-bit store (used elements).
    pub fn store32(&self, addr: u64, v: u32) -> Result<(), BadAddress> {
        let off = self.check(addr, 4)?;
        if off % 4 != 0 {
            return Err(BadAddress { addr, len: 4 });
        }
        // SAFETY: in bounds and 4-aligned.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().wrapping_add(off).cast()) }
            .store(v, Ordering::Release);
        Ok(())
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&self, addr: u64) -> Result<u64, BadAddress> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl Drop for FakeMemory {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.size, PAGE_SIZE).expect("fake arena layout");
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), layout) };
    }
}

//! Guest RAM shared between QEMU and the test process.
//!
//! A `memfd` of the RAM size is mapped `MAP_SHARED` here and handed to QEMU as
//! `memory-backend-file,mem-path=/proc/self/fd/N,share=on`: both processes see the same pages,
//! and the memory disappears with the last mapping — nothing to delete on any exit path.
//! On q35 with ≤ 2 GiB of RAM all of it sits below 4 GiB, so **guest-physical address ==
//! offset** in the mapping.
//!
//! # Reserved layout
//! | range | use |
//! |---|---|
//! | `0 .. 1 MiB` | unusable: real-mode area, 0xA0000–0xFFFFF is VGA/PAM, not plain RAM |
//! | [`DOORBELL_BASE`] `..` [`DMA_BASE`] (1–2 MiB) | MSI-X doorbells: one 64-byte slot per vector |
//! | [`DMA_BASE`] `..` RAM end | free for DMA allocations (rings, buffers) by the user (ndis-emu) |

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64};

use crate::error::{Error, Result};

/// Everything below this is left alone.
pub const LOW_RESERVED_END: u64 = 0x10_0000;
/// First MSI-X doorbell slot.
pub const DOORBELL_BASE: u64 = 0x10_0000;
/// Distance between doorbell slots: one cache line each, so a poller of one vector does not
/// share a line with the device's writes to another.
pub const DOORBELL_STRIDE: u64 = 64;
/// Most vectors the doorbell area holds (the MSI-X maximum is 2048).
pub const DOORBELL_MAX_VECTORS: u64 = 2048;
/// Start of the range free for DMA allocations.
pub const DMA_BASE: u64 = DOORBELL_BASE + DOORBELL_STRIDE * DOORBELL_MAX_VECTORS; // 0x12_0000
/// Smallest RAM the testbed accepts.
pub const MIN_RAM: u64 = 16 << 20;
/// Largest RAM the testbed accepts: q35 keeps up to 2 GiB below 4 GiB, where GPA == offset.
pub const MAX_RAM: u64 = 2 << 30;

/// The shared guest RAM mapping. `Send + Sync`: it is plain shared memory; concurrent use is
/// the caller's protocol (the device writes it concurrently too, so fields the device writes
/// must be read with the atomic accessors).
#[derive(Debug)]
pub struct GuestRam {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is process-wide shared memory with no thread affinity; GuestRam only hands
// out raw pointers, atomics and copying accessors, whose races are defined at the hardware level
// like any DMA memory.
unsafe impl Send for GuestRam {}
// SAFETY: as above; no method takes `&mut self` state that could be torn by sharing `&GuestRam`.
unsafe impl Sync for GuestRam {}

impl GuestRam {
    /// Creates a memfd of `size` bytes (sealed against shrinking) and maps it.
    pub fn new(size: u64) -> Result<GuestRam> {
        if !(MIN_RAM..=MAX_RAM).contains(&size) || !size.is_multiple_of(2 << 20) {
            return Err(Error::Invalid(format!(
                "guest RAM size {size:#x}: must be a multiple of 2 MiB in {MIN_RAM:#x}..={MAX_RAM:#x}"
            )));
        }
        let len = usize::try_from(size).map_err(|_| Error::Invalid("RAM size".into()))?;
        // CLOEXEC: only QEMU gets it, through SpawnOptions::keep_fds (cleared in that child only).
        // SAFETY: memfd_create with a NUL-terminated name and flags.
        let raw = unsafe {
            libc::memfd_create(
                c"ntb-guest-ram".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if raw < 0 {
            return Err(Error::last_os("memfd_create"));
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let off = libc::off_t::try_from(size).map_err(|_| Error::Invalid("RAM size".into()))?;
        // SAFETY: ftruncate on our fd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), off) } != 0 {
            return Err(Error::last_os("ftruncate guest RAM memfd"));
        }
        // QEMU must not be able to shrink it under our mapping (SIGBUS on access otherwise).
        // SAFETY: fcntl(F_ADD_SEALS) on our fd with seal flags.
        if unsafe {
            libc::fcntl(
                fd.as_raw_fd(),
                libc::F_ADD_SEALS,
                libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL,
            )
        } != 0
        {
            return Err(Error::last_os("seal guest RAM memfd"));
        }
        // SAFETY: mapping a fresh shared region of `len` bytes from our fd; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os("mmap guest RAM"));
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| Error::Setup("mmap gave null".into()))?;
        Ok(GuestRam { ptr, len, fd })
    }

    /// The memfd (QEMU opens it as `/proc/self/fd/N` after it is kept across exec).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Base of the mapping: the host pointer for guest-physical address 0.
    pub fn base_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Size in bytes (guest-physical addresses `0 .. len`).
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// Always false (the size is at least [`MIN_RAM`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The range the user may allocate DMA memory from (`DMA_BASE .. len`).
    pub fn dma_range(&self) -> std::ops::Range<u64> {
        DMA_BASE..self.len()
    }

    /// Host pointer for `gpa .. gpa + len`, or None if outside RAM.
    pub fn ptr(&self, gpa: u64, len: u64) -> Option<*mut u8> {
        let end = gpa.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        let off = usize::try_from(gpa).ok()?;
        // SAFETY: off + len <= self.len, so the result stays inside the mapping.
        Some(unsafe { self.ptr.as_ptr().add(off) })
    }

    /// Guest-physical address of a host pointer into the mapping (None if outside): the
    /// VA → PA translation a scatter-gather builder needs.
    pub fn gpa_of(&self, p: *const u8) -> Option<u64> {
        let base = self.ptr.as_ptr() as usize;
        let off = (p as usize).checked_sub(base)?;
        (off < self.len).then_some(off as u64)
    }

    fn check(&self, gpa: u64, len: usize) -> Result<*mut u8> {
        self.ptr(gpa, len as u64).ok_or_else(|| {
            Error::Invalid(format!(
                "guest range {gpa:#x}+{len:#x} outside RAM of {:#x}",
                self.len
            ))
        })
    }

    /// Copies `buf.len()` bytes out of guest memory at `gpa`.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<()> {
        let p = self.check(gpa, buf.len())?;
        // SAFETY: p..p+len is inside the mapping (checked); buf is a distinct local buffer.
        unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into guest memory at `gpa`.
    pub fn write(&self, gpa: u64, data: &[u8]) -> Result<()> {
        let p = self.check(gpa, data.len())?;
        // SAFETY: p..p+len is inside the mapping (checked); data is a distinct buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(())
    }

    /// Fills `len` bytes at `gpa` with `byte`.
    pub fn fill(&self, gpa: u64, len: usize, byte: u8) -> Result<()> {
        let p = self.check(gpa, len)?;
        // SAFETY: p..p+len is inside the mapping (checked).
        unsafe { std::ptr::write_bytes(p, byte, len) };
        Ok(())
    }

    fn atomic<T>(&self, gpa: u64) -> Option<&T> {
        let size = std::mem::size_of::<T>() as u64;
        if !gpa.is_multiple_of(size) {
            return None;
        }
        let p = self.ptr(gpa, size)?;
        // SAFETY: in range and naturally aligned (the mapping is page aligned); atomics have no
        // invalid bit patterns; the reference lives no longer than `self`, i.e. the mapping.
        Some(unsafe { &*p.cast::<T>() })
    }

    /// A 16-bit atomic view of `gpa` (must be 2-byte aligned and in RAM). Ring indices must be
    /// accessed this way: a byte-wise copy can observe a torn index (recipe pitfall 2).
    pub fn atomic_u16(&self, gpa: u64) -> Option<&AtomicU16> {
        self.atomic(gpa)
    }

    /// A 32-bit atomic view of `gpa` (4-byte aligned).
    pub fn atomic_u32(&self, gpa: u64) -> Option<&AtomicU32> {
        self.atomic(gpa)
    }

    /// A 64-bit atomic view of `gpa` (8-byte aligned).
    pub fn atomic_u64(&self, gpa: u64) -> Option<&AtomicU64> {
        self.atomic(gpa)
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mmap returned; no references outlive `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn layout_keeps_doorbells_above_1mib_and_dma_above_doorbells() {
        const { assert!(DOORBELL_BASE >= LOW_RESERVED_END) };
        assert_eq!(DMA_BASE, 0x12_0000);
        const { assert!(DOORBELL_BASE + DOORBELL_STRIDE * DOORBELL_MAX_VECTORS <= DMA_BASE) };
    }

    #[test]
    fn ram_bounds_are_enforced_and_atomics_alias_bytes() {
        let ram = GuestRam::new(16 << 20).unwrap();
        assert!(GuestRam::new(3 << 20).is_err());
        assert!(GuestRam::new(4 << 30).is_err());
        assert_eq!(ram.len(), 16 << 20);
        ram.write(0x20_0000, &[1, 2, 3, 4]).unwrap();
        assert_eq!(
            ram.atomic_u32(0x20_0000).unwrap().load(Ordering::Relaxed),
            0x0403_0201
        );
        assert!(ram.atomic_u32(0x20_0001).is_none(), "unaligned");
        assert!(ram.atomic_u64((16 << 20) - 4).is_none(), "crosses the end");
        assert!(ram.write((16 << 20) - 2, &[0; 4]).is_err());
        assert!(ram.read(u64::MAX - 1, &mut [0; 4]).is_err());
        let mut b = [0u8; 4];
        ram.read(0x20_0000, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        assert_eq!(ram.dma_range(), DMA_BASE..16 << 20);
        let p = ram.ptr(0x20_0010, 4).unwrap();
        assert_eq!(ram.gpa_of(p), Some(0x20_0010));
        assert_eq!(
            ram.gpa_of(b.as_ptr()),
            None,
            "a stack buffer is not guest memory"
        );
        assert_eq!(
            ram.gpa_of(ram.base_ptr().wrapping_add(16 << 20)),
            None,
            "one past the end"
        );
    }

    #[test]
    fn memfd_is_visible_through_proc_fd_path() {
        // QEMU opens /proc/<its pid>/fd/N; opening our own /proc/self/fd/N must map the same pages.
        let ram = GuestRam::new(16 << 20).unwrap();
        ram.write(0x30_0000, b"hello").unwrap();
        let path = format!("/proc/self/fd/{}", ram.raw_fd());
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 16 << 20);
        assert_eq!(&data[0x30_0000..0x30_0005], b"hello");
    }
}

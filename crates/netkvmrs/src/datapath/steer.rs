//! RSS steering: which processor indicates a received frame, and which queue pair a send uses.
//!
//! # Receive: what the device gives vs. what NDIS asks
//! NDIS wants every received frame indicated on the processor its indirection-table entry names
//! (`hash & (entries - 1)` → `PROCESSOR_NUMBER`). The device only picks a *queue*: with `VIRTIO_NET_F_RSS`
//! the control plane programs the table as entry → queue (`queue_for_cpu`: processor index mod pairs),
//! without it the host's own flow hash picks the queue. A queue's DPC runs where its MSI-X message fires.
//! So the datapath checks every indication: the frame's hash → table entry → processor; if that is not
//! the processor running the DPC, the built NBL goes to that processor's steering list and a DPC for the
//! queue's message is queued there (`NdisMQueueDpcEx`), which indicates the list first thing. With device
//! RSS and one queue per table processor almost nothing is moved; without device RSS every frame still
//! ends up on the right processor. Frames without a hash go to the default processor. Only processors of
//! group 0 below [`MAX_STEER_CPUS`] are steered to (others are indicated where they arrive).
//!
//! # Transmit
//! A send with an NBL hash (TCP/IP sets it when RSS is on) uses the queue its table entry maps to, so a
//! connection's sends and receives share a pair; sends without a hash use the current processor's index
//! modulo the pairs — never "everything on queue 0" (NetKVM PR #1618).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU8, Ordering};

use ndis_sys as n;

use super::nbl::{self, NblList};
use super::{RssMode, RssSettings, MAX_INDIRECTION};
use crate::interrupt::InterruptHandle;
use crate::sync::SpinLock;

/// Processors (of group 0) frames can be steered to.
pub(crate) const MAX_STEER_CPUS: usize = 64;

struct SteerCpu {
    list: SpinLock<NblList>,
    queued: AtomicBool,
}

/// Steering state of one adapter.
pub(crate) struct Steering {
    interrupt: InterruptHandle,
    pairs: u16,
    mode: AtomicU8,
    len: AtomicU16,
    queues: [AtomicU16; MAX_INDIRECTION],
    /// `Group << 8 | Number` per entry.
    cpus: [AtomicU32; MAX_INDIRECTION],
    default_cpu: AtomicU32,
    lists: Vec<SteerCpu>,
}

const MODE_DISABLED: u8 = 0;
const MODE_HASH: u8 = 1;
const MODE_FULL: u8 = 2;

fn pack(p: n::PROCESSOR_NUMBER) -> u32 {
    (u32::from(p.Group) << 8) | u32::from(p.Number)
}

fn unpack(v: u32) -> n::PROCESSOR_NUMBER {
    n::PROCESSOR_NUMBER {
        Group: (v >> 8) as u16,
        Number: v as u8,
        Reserved: 0,
    }
}

/// Flat index of a processor for per-processor arrays (group 0 only).
fn cpu_slot(p: &n::PROCESSOR_NUMBER) -> Option<usize> {
    (p.Group == 0 && usize::from(p.Number) < MAX_STEER_CPUS).then_some(usize::from(p.Number))
}

impl Steering {
    /// RSS off; `pairs` queue pairs. PASSIVE_LEVEL (allocates the per-processor lists).
    pub(crate) fn new(interrupt: InterruptHandle, pairs: u16) -> Option<Self> {
        let mut lists = Vec::new();
        lists.try_reserve_exact(MAX_STEER_CPUS).ok()?;
        for _ in 0..MAX_STEER_CPUS {
            lists.push(SteerCpu {
                list: SpinLock::new(NblList::new()),
                queued: AtomicBool::new(false),
            });
        }
        Some(Steering {
            interrupt,
            pairs: pairs.max(1),
            mode: AtomicU8::new(MODE_DISABLED),
            len: AtomicU16::new(0),
            queues: [const { AtomicU16::new(0) }; MAX_INDIRECTION],
            cpus: [const { AtomicU32::new(0) }; MAX_INDIRECTION],
            default_cpu: AtomicU32::new(0),
            lists,
        })
    }

    /// Takes a new RSS configuration (<= DISPATCH_LEVEL). Readers may briefly see a mix of old and new
    /// entries, which NDIS allows (spec §6.3: transient reordering / wrong processor).
    pub(crate) fn set(&self, rss: &RssSettings) {
        let len = if rss.mode == RssMode::Full {
            usize::from(rss.table_len).min(MAX_INDIRECTION)
        } else {
            0
        };
        for i in 0..len {
            let q = rss.queue_table.get(i).copied().unwrap_or(0);
            let c = rss.cpu_table.get(i).copied().unwrap_or_default();
            if let (Some(qa), Some(ca)) = (self.queues.get(i), self.cpus.get(i)) {
                qa.store(q.min(self.pairs - 1), Ordering::Relaxed);
                ca.store(pack(c), Ordering::Relaxed);
            }
        }
        self.default_cpu
            .store(pack(rss.default_processor), Ordering::Relaxed);
        self.len.store(len as u16, Ordering::Release);
        self.mode.store(
            match rss.mode {
                RssMode::Disabled => MODE_DISABLED,
                RssMode::HashOnly => MODE_HASH,
                RssMode::Full => MODE_FULL,
            },
            Ordering::Release,
        );
    }

    /// Queue pair for a send with NBL hash `hash` of type `hash_type` (0 = no hash).
    pub(crate) fn tx_queue(&self, hash: u32, hash_type: u32) -> u16 {
        if self.pairs <= 1 {
            return 0;
        }
        let len = usize::from(self.len.load(Ordering::Acquire));
        if self.mode.load(Ordering::Relaxed) == MODE_FULL && hash_type != 0 && len.is_power_of_two()
        {
            if let Some(q) = self.queues.get(hash as usize & (len - 1)) {
                return q.load(Ordering::Relaxed).min(self.pairs - 1);
            }
        }
        let p = nbl::current_processor();
        (u32::from(p.Number) % u32::from(self.pairs)) as u16
    }

    /// The processor that must indicate a frame with hash `hash` (`None`: RSS is not steering).
    pub(crate) fn target(&self, hash: Option<u32>) -> Option<n::PROCESSOR_NUMBER> {
        if self.mode.load(Ordering::Acquire) != MODE_FULL {
            return None;
        }
        let len = usize::from(self.len.load(Ordering::Acquire));
        let v = match hash {
            Some(h) if len.is_power_of_two() => self.cpus.get(h as usize & (len - 1))?,
            _ => &self.default_cpu,
        };
        Some(unpack(v.load(Ordering::Relaxed)))
    }

    /// Puts `l` on `cpu`'s list and makes sure a DPC for `message` runs there. False (nothing done) if
    /// the processor cannot be steered to.
    ///
    /// # Safety
    /// `l` is a built receive NBL the caller owns; ownership moves to the list.
    pub(crate) unsafe fn push(
        &self,
        cpu: n::PROCESSOR_NUMBER,
        l: n::PNET_BUFFER_LIST,
        message: u32,
    ) -> bool {
        let Some(slot) = cpu_slot(&cpu).and_then(|i| self.lists.get(i)) else {
            return false;
        };
        // SAFETY: owned NBL (caller).
        unsafe { slot.list.lock().push(l) };
        if !slot.queued.swap(true, Ordering::AcqRel) {
            // A false return means a DPC for the message is already queued there: it drains the list.
            let _ = self.interrupt.queue_dpc(message, Some(cpu));
        }
        true
    }

    /// Up to `max` NBLs of the current processor's list (the flag is cleared first, so a concurrent push
    /// queues a new DPC rather than relying on this one); `true` when more remain.
    pub(crate) fn take_local(&self, max: u32) -> (NblList, bool) {
        let here = nbl::current_processor();
        let Some(slot) = cpu_slot(&here).and_then(|i| self.lists.get(i)) else {
            return (NblList::new(), false);
        };
        slot.queued.store(false, Ordering::SeqCst);
        let mut g = slot.list.lock();
        if g.len() <= max {
            return (g.take(), false);
        }
        let mut out = NblList::new();
        while out.len() < max {
            // SAFETY: the list holds built receive NBLs the datapath owns.
            match unsafe { g.pop_front() } {
                // SAFETY: as above.
                Some(l) => unsafe { out.push(l) },
                None => break,
            }
        }
        (out, !g.is_empty())
    }

    /// Indicates up to `max` NBLs of the current processor's list (DISPATCH_LEVEL, only while the
    /// adapter's gate is running); returns how many, and whether more wait.
    pub(crate) fn indicate_local(&self, miniport: n::NDIS_HANDLE, max: u32) -> (u32, bool) {
        let (list, more) = self.take_local(max);
        let count = list.len();
        if count > 0 {
            // SAFETY: built receive NBLs of this adapter (already counted as held by their
            // queues); DISPATCH_LEVEL (DPC) as flagged; the caller checked the gate.
            unsafe {
                n::NdisMIndicateReceiveNetBufferLists(
                    miniport,
                    list.head(),
                    0,
                    count,
                    n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
                )
            };
        }
        (count, more)
    }

    /// Every list (gate closed: the NBLs go back to their queues instead of being indicated).
    pub(crate) fn take_all(&self) -> NblList {
        let mut all = NblList::new();
        for s in &self.lists {
            s.queued.store(false, Ordering::Release);
            let mut l = s.list.lock().take();
            // SAFETY: both lists hold NBLs the datapath owns.
            unsafe { all.append(&mut l) };
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(len: u16, pairs: u16) -> RssSettings {
        let mut s = RssSettings::DISABLED;
        s.mode = RssMode::Full;
        s.table_len = len;
        for i in 0..usize::from(len) {
            let cpu = (i % 4) as u8;
            s.cpu_table[i] = n::PROCESSOR_NUMBER {
                Group: 0,
                Number: cpu,
                Reserved: 0,
            };
            s.queue_table[i] = u16::from(cpu) % pairs;
        }
        s.default_processor = n::PROCESSOR_NUMBER {
            Group: 0,
            Number: 3,
            Reserved: 0,
        };
        s
    }

    #[test]
    fn the_low_hash_bits_pick_the_table_entry() {
        let st = Steering::new(InterruptHandle::NONE, 4).unwrap();
        st.set(&settings(8, 4));
        // Entry i → processor i % 4, queue i % 4.
        assert_eq!(st.target(Some(0x1234_5605)).unwrap().Number, 1);
        assert_eq!(st.target(Some(0xFFFF_FFFE)).unwrap().Number, 2);
        assert_eq!(st.tx_queue(0x0000_0003, 0x200), 3);
        assert_eq!(st.tx_queue(0x0000_000A, 0x200), 2);
        // No hash → the default processor.
        assert_eq!(st.target(None).unwrap().Number, 3);
    }

    #[test]
    fn queues_beyond_the_pairs_are_clamped_and_disabled_rss_does_not_steer() {
        let st = Steering::new(InterruptHandle::NONE, 2).unwrap();
        let mut s = settings(4, 4);
        s.queue_table[3] = 7;
        st.set(&s);
        assert_eq!(st.tx_queue(3, 0x200), 1);
        st.set(&RssSettings::DISABLED);
        assert_eq!(st.target(Some(3)), None);
    }

    #[test]
    fn single_pair_always_uses_queue_zero() {
        let st = Steering::new(InterruptHandle::NONE, 1).unwrap();
        st.set(&settings(8, 1));
        for h in 0..16 {
            assert_eq!(st.tx_queue(h, 0x200), 0);
        }
    }
}

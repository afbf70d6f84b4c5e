//! The protocol side's send NBLs: built as a protocol driver (TCP/IP) builds them — one
//! NET_BUFFER per frame, an MDL chain per NET_BUFFER (optionally split, e.g. headers in their
//! own MDL), optional unused space before the data (backfill), per-NBL out-of-band info — with
//! the data in DMA-able memory (zero-copy scatter/gather) unless asked otherwise (then NDIS must
//! bounce it).

use std::sync::{Arc, Weak};

use ndis_sys as n;

use crate::nbl::{build_mdl, raw_alloc, raw_free};
use crate::ndis::Ndis;

/// `SourceHandle` of protocol NBLs (the "binding handle" of the emulated TCP/IP).
pub const PROTOCOL_SOURCE_HANDLE: usize = 0x5052_4F54_0000;

/// How one frame is laid out in its NET_BUFFER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbSpec {
    /// The frame bytes.
    pub data: Vec<u8>,
    /// Offsets at which the MDL chain is split (each piece in its own buffer).
    pub splits: Vec<usize>,
    /// Unused bytes before the data in the first MDL (`DataOffset`).
    pub backfill: usize,
    /// Data in DMA-able memory (true) or plain heap memory (false: must be bounced).
    pub dma: bool,
}

impl NbSpec {
    /// A frame in one DMA-able MDL.
    pub fn new(frame: &[u8]) -> Self {
        NbSpec {
            data: frame.to_vec(),
            splits: Vec::new(),
            backfill: 0,
            dma: true,
        }
    }

    /// Splits the MDL chain at these offsets.
    pub fn split_at(mut self, at: &[usize]) -> Self {
        self.splits = at.to_vec();
        self
    }

    /// Adds unused space before the data.
    pub fn backfill(mut self, n: usize) -> Self {
        self.backfill = n;
        self
    }

    /// Puts the data in memory the device cannot reach.
    pub fn non_dma(mut self) -> Self {
        self.dma = false;
        self
    }
}

/// A NET_BUFFER_LIST to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NblSpec {
    /// Its NET_BUFFERs.
    pub nbs: Vec<NbSpec>,
    /// Per-NBL info slots to set (`NetBufferListInfo[slot] = value`).
    pub info: Vec<(usize, usize)>,
    /// `NblFlags`.
    pub nbl_flags: u32,
}

impl NblSpec {
    /// One NBL with one NB per frame (each frame in one DMA-able MDL).
    pub fn frames(frames: &[&[u8]]) -> Self {
        NblSpec {
            nbs: frames.iter().map(|f| NbSpec::new(f)).collect(),
            ..Default::default()
        }
    }

    /// Adds a NET_BUFFER.
    pub fn nb(mut self, nb: NbSpec) -> Self {
        self.nbs.push(nb);
        self
    }

    /// Sets an info slot.
    pub fn info(mut self, slot: usize, value: usize) -> Self {
        self.info.push((slot, value));
        self
    }
}

enum Buf {
    Dma(*mut u8),
    Heap(*mut u8),
}

/// A protocol-owned NET_BUFFER_LIST (freed when dropped).
pub struct ProtoNbl {
    nbl: *mut n::NET_BUFFER_LIST,
    nbs: Vec<*mut n::NET_BUFFER>,
    mdls: Vec<*mut n::MDL>,
    bufs: Vec<Buf>,
    id: u64,
    ndis: Weak<Ndis>,
}

// SAFETY: the NBL and its memory are owned by this value (or, while sent, by the miniport with
// the emulator holding this value); nothing is tied to a thread.
unsafe impl Send for ProtoNbl {}

impl std::fmt::Debug for ProtoNbl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProtoNbl#{}({:p})", self.id, self.nbl)
    }
}

/// Why an NBL could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// No NET_BUFFER, or an empty frame.
    Empty,
    /// Memory (DMA or heap) exhausted.
    NoMemory,
}

impl ProtoNbl {
    pub(crate) fn build(ndis: &Arc<Ndis>, spec: &NblSpec, id: u64) -> Result<ProtoNbl, BuildError> {
        if spec.nbs.is_empty() || spec.nbs.iter().any(|s| s.data.is_empty()) {
            return Err(BuildError::Empty);
        }
        let nbl =
            raw_alloc(core::mem::size_of::<n::NET_BUFFER_LIST>()).cast::<n::NET_BUFFER_LIST>();
        if nbl.is_null() {
            return Err(BuildError::NoMemory);
        }
        let mut me = ProtoNbl {
            nbl,
            nbs: Vec::new(),
            mdls: Vec::new(),
            bufs: Vec::new(),
            id,
            ndis: Arc::downgrade(ndis),
        };
        for s in &spec.nbs {
            let mut cuts: Vec<usize> = s
                .splits
                .iter()
                .copied()
                .filter(|&c| c > 0 && c < s.data.len())
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(s.data.len());
            let mut head: *mut n::MDL = std::ptr::null_mut();
            let mut tail: *mut n::MDL = std::ptr::null_mut();
            for (i, w) in bounds.windows(2).enumerate() {
                let piece = &s.data[w[0]..w[1]];
                let pre = if i == 0 { s.backfill } else { 0 };
                let total = pre + piece.len();
                let p = if s.dma {
                    let (va, _) = ndis.dma.alloc_small(total).ok_or(BuildError::NoMemory)?;
                    me.bufs.push(Buf::Dma(va));
                    va
                } else {
                    let va = raw_alloc(total);
                    if va.is_null() {
                        return Err(BuildError::NoMemory);
                    }
                    me.bufs.push(Buf::Heap(va));
                    va
                };
                // SAFETY: `p` has `total` bytes; the piece goes after the backfill.
                unsafe {
                    std::ptr::copy_nonoverlapping(piece.as_ptr(), p.wrapping_add(pre), piece.len())
                };
                let m = build_mdl(p, total as u32, Some(ndis));
                if m.is_null() {
                    return Err(BuildError::NoMemory);
                }
                me.mdls.push(m);
                if tail.is_null() {
                    head = m;
                } else {
                    // SAFETY: our own MDL.
                    unsafe { (*tail).Next = m };
                }
                tail = m;
            }
            let nb = raw_alloc(core::mem::size_of::<n::NET_BUFFER>()).cast::<n::NET_BUFFER>();
            if nb.is_null() {
                return Err(BuildError::NoMemory);
            }
            // SAFETY: fresh NB with our chain.
            unsafe { crate::nbl::init_nb(nb, head, s.backfill as u32, s.data.len() as u32, 0) };
            if let Some(&prev) = me.nbs.last() {
                // SAFETY: our previous NB.
                unsafe { (*prev).set_next_nb(nb) };
            } else {
                // SAFETY: our NBL.
                unsafe { (*nbl).set_first_nb(nb) };
            }
            me.nbs.push(nb);
        }
        // SAFETY: our NBL, exclusively owned.
        let l = unsafe { &mut *nbl };
        l.SourceHandle = PROTOCOL_SOURCE_HANDLE as n::NDIS_HANDLE;
        l.NblFlags = spec.nbl_flags;
        for &(slot, v) in &spec.info {
            l.set_info_value(slot, v);
        }
        Ok(me)
    }

    /// The NBL.
    pub fn as_ptr(&self) -> *mut n::NET_BUFFER_LIST {
        self.nbl
    }

    /// Identifier (unique within the harness).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The NBL (for reading / writing fields between sends).
    pub fn nbl(&self) -> &n::NET_BUFFER_LIST {
        // SAFETY: owned by this value; not in the miniport's hands when the caller has `&self`
        // outside a send.
        unsafe { &*self.nbl }
    }

    /// Mutable NBL.
    pub fn nbl_mut(&mut self) -> &mut n::NET_BUFFER_LIST {
        // SAFETY: as above, exclusive through `&mut self`.
        unsafe { &mut *self.nbl }
    }

    /// `NET_BUFFER_LIST_INFO(nbl, slot)` as an integer.
    pub fn info(&self, slot: usize) -> usize {
        self.nbl().info_value(slot).unwrap_or(0)
    }

    /// Sets an info slot.
    pub fn set_info(&mut self, slot: usize, v: usize) {
        self.nbl_mut().set_info_value(slot, v);
    }

    /// `NET_BUFFER_LIST_STATUS`.
    pub fn status(&self) -> n::NDIS_STATUS {
        self.nbl().Status
    }

    /// The NET_BUFFERs.
    pub fn nbs(&self) -> &[*mut n::NET_BUFFER] {
        &self.nbs
    }

    /// The current data of every NET_BUFFER.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        self.nbs
            .iter()
            // SAFETY: our own NBs with our own chains.
            .map(|&nb| unsafe { crate::nbl::nb_bytes(nb) }.unwrap_or_default())
            .collect()
    }
}

impl Drop for ProtoNbl {
    fn drop(&mut self) {
        let ndis = self.ndis.upgrade();
        for b in self.bufs.drain(..) {
            match b {
                Buf::Dma(p) => {
                    if let Some(nd) = &ndis {
                        nd.dma.free_small(p);
                    }
                }
                Buf::Heap(p) => {
                    raw_free(p);
                }
            }
        }
        for m in self.mdls.drain(..) {
            raw_free(m.cast());
        }
        for nb in self.nbs.drain(..) {
            raw_free(nb.cast());
        }
        raw_free(self.nbl.cast());
    }
}

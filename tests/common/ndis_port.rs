//! The stand-in's port to the real miniport: NBLs through ndis-emu's protocol-side API
//! (`MiniportSendNetBufferLists`, completions), indications through its in-place receive
//! callback (one copy per frame, into a recycled buffer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ndis_emu::{AdapterState, Harness, NbSpec, NblSpec, Protocol, RxView};
use ndis_sys as n;

use crate::shape::{self, slot, RxInfo, TxKind, TxStats, WinTx};
use crate::standin::{Port, RxItem, RxQueue};

/// Unused bytes before the data in the first MDL of every send (Windows's stack leaves
/// backfill for lower layers; the miniport must honour `CurrentMdlOffset`).
pub const BACKFILL: usize = 32;

/// A [`Harness`] that may move between threads.
pub struct SendHarness(pub Harness);

// SAFETY: Harness is !Send only because it holds raw pointers into its own heap data (the
// registry-path UNICODE_STRING and the NBLs it built); nothing in it is tied to the creating
// thread: every driving method first attaches the calling thread to the emulator (`enter`).
// Access is serialised by the Mutex in NdisPort.
unsafe impl Send for SendHarness {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The real miniport in ndis-emu as a stand-in [`Port`]. Sends go through ndis-emu's
/// `Protocol` handle (no harness lock: OID requests and lifecycle calls run concurrently, as
/// on Windows); the harness itself is kept for the test thread.
pub struct NdisPort {
    h: Mutex<SendHarness>,
    proto: Mutex<Option<Protocol>>,
    rxq: Mutex<Option<Arc<RxQueue>>>,
    /// LSO sends in flight: NBL id → how they were shaped (completion info check).
    lso: Mutex<HashMap<u64, TxKind>>,
    /// NBLs that could not be built (DMA memory exhausted).
    pub build_failures: AtomicU64,
}

impl NdisPort {
    /// Wraps a harness whose adapter is up.
    pub fn new(h: Harness) -> Arc<NdisPort> {
        Arc::new(NdisPort {
            h: Mutex::new(SendHarness(h)),
            proto: Mutex::new(None),
            rxq: Mutex::new(None),
            lso: Mutex::new(HashMap::new()),
            build_failures: AtomicU64::new(0),
        })
    }

    /// Locks the harness for the test thread (OIDs, lifecycle).
    pub fn harness(&self) -> MutexGuard<'_, SendHarness> {
        lock(&self.h)
    }

    /// Routes indications to `q` from now on (see [`NdisPort::attach`]).
    pub fn connect_rx(&self, q: Arc<RxQueue>) {
        *lock(&self.rxq) = Some(q);
        let mut g = lock(&self.h);
        Self::attach_locked(&mut g.0, &self.proto, &self.rxq);
    }

    /// Binds the port to the harness's current adapter (again after a re-initialisation made
    /// a new one): the send handle, and the receive callback — called by the emulator on the
    /// indicating (DPC) thread with the NBL's data in place; it copies each frame once, into a
    /// buffer the TAP writer has finished with, and queues; the writer does the rest.
    /// Capture is turned off so the emulator makes no copies of its own.
    pub fn attach(&self, h: &mut Harness) {
        Self::attach_locked(h, &self.proto, &self.rxq);
    }

    fn attach_locked(
        h: &mut Harness,
        proto: &Mutex<Option<Protocol>>,
        rxq: &Mutex<Option<Arc<RxQueue>>>,
    ) {
        *lock(proto) = h.protocol().ok();
        h.set_receive_capture(false);
        if let Some(q) = lock(rxq).clone() {
            h.set_receive_view_callback(Some(Arc::new(move |v: &RxView<'_>| {
                let mut frames = q.frame_list();
                frames.resize_with(v.nb_count(), Vec::new);
                for (buf, nb) in frames.iter_mut().zip(v.nbs()) {
                    buf.clear();
                    nb.copy_to(buf);
                }
                q.push(RxItem {
                    frames,
                    info: RxInfo::from_slots(v.info, v.receive_flags),
                    cpu: v.cpu,
                });
            })));
        }
    }

    /// Detaches the receive callback.
    pub fn disconnect_rx(&self) {
        *lock(&self.rxq) = None;
        lock(&self.h).0.set_receive_view_callback(None);
    }
}

impl Port for NdisPort {
    fn send(&self, batch: &mut Vec<WinTx>, st: &TxStats, recycle: &mut Vec<Vec<u8>>) {
        let Some(p) = lock(&self.proto).clone() else {
            st.not_running
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
            return;
        };
        // Windows's stack does not send to a paused or halted adapter.
        if p.state() != AdapterState::Running {
            st.not_running
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
            return;
        }
        let mut nbls = Vec::with_capacity(batch.len());
        let mut lso = Vec::new();
        for w in batch.drain(..) {
            let spec = NblSpec {
                nbs: vec![NbSpec {
                    data: w.frame,
                    splits: w.splits,
                    backfill: BACKFILL,
                    dma: true,
                }],
                info: w.info,
                nbl_flags: 0,
            };
            let built = p.nbl(&spec);
            // The NBL has its own copy in DMA memory: the frame buffer can be reused.
            if let Some(nb) = spec.nbs.into_iter().next() {
                recycle.push(nb.data);
            }
            match built {
                Ok(nbl) => {
                    if matches!(w.kind, TxKind::LsoV1(_) | TxKind::LsoV2) {
                        lso.push((nbl.id(), w.kind));
                    }
                    nbls.push(nbl);
                }
                Err(_) => {
                    self.build_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !lso.is_empty() {
            lock(&self.lso).extend(lso);
        }
        if !nbls.is_empty() {
            let n = nbls.len() as u64;
            if p.send(nbls).is_err() {
                st.not_running.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    fn reap(&self, st: &TxStats) -> usize {
        let Some(p) = lock(&self.proto).clone() else {
            return 0;
        };
        let done = p.wait_completions(0, Duration::ZERO);
        if !done.is_empty() {
            let mut lso = lock(&self.lso);
            for c in &done {
                st.completed.fetch_add(1, Ordering::Relaxed);
                if c.status != n::NDIS_STATUS_SUCCESS {
                    st.completed_failed.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(kind) = lso.remove(&c.nbl.id()) {
                    if c.status == n::NDIS_STATUS_SUCCESS
                        && !shape::lso_completion_ok(kind, c.nbl.info(slot::LSO))
                    {
                        st.bad_lso_completion.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        p.outstanding_sends()
    }
}

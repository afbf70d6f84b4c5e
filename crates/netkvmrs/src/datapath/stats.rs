//! Per-queue counters without contention: every counter has one writer at a time (the queue's DPC for
//! receive counters, the holder of the queue's transmit lock for transmit counters), which updates it
//! with a plain load + store (no locked read-modify-write, no shared cache line between queues);
//! [`super::Datapath::stats`] sums the queues when an OID asks.

use core::sync::atomic::{AtomicU64, Ordering};

use super::filter::Cast;
use super::{DatapathStats, RscStats};

/// A counter with a single writer at a time (see the module docs); readable from anywhere.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` (caller is the only writer right now).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// The value.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Frames and bytes per destination cast.
#[derive(Debug, Default)]
pub(crate) struct CastCounters {
    pub(crate) frames: Counter,
    pub(crate) bytes: Counter,
    pub(crate) ucast_frames: Counter,
    pub(crate) ucast_bytes: Counter,
    pub(crate) mcast_frames: Counter,
    pub(crate) mcast_bytes: Counter,
    pub(crate) bcast_frames: Counter,
    pub(crate) bcast_bytes: Counter,
}

impl CastCounters {
    /// Counts `frames` frames of `bytes` bytes in total, all with destination cast `cast`.
    #[inline]
    pub(crate) fn count(&self, cast: Cast, frames: u64, bytes: u64) {
        self.frames.add(frames);
        self.bytes.add(bytes);
        let (f, b) = match cast {
            Cast::Unicast => (&self.ucast_frames, &self.ucast_bytes),
            Cast::Multicast => (&self.mcast_frames, &self.mcast_bytes),
            Cast::Broadcast => (&self.bcast_frames, &self.bcast_bytes),
        };
        f.add(frames);
        b.add(bytes);
    }
}

/// Receive counters of one queue (writer: the queue's DPC).
#[derive(Debug, Default)]
pub(crate) struct RxStats {
    pub(crate) ok: CastCounters,
    /// Malformed / hostile frames (`ifInErrors`).
    pub(crate) errors: Counter,
    /// Filtered, or dropped while not running (`ifInDiscards`).
    pub(crate) discards: Counter,
    /// Dropped for lack of an NBL.
    pub(crate) no_buffer: Counter,
    /// Indications made with `NDIS_RECEIVE_FLAGS_RESOURCES`.
    pub(crate) low_resources: Counter,
    /// Software-RSS hashes that disagreed with the device's hash report.
    pub(crate) hash_mismatch: Counter,
    /// Frames steered to another processor's indication list.
    pub(crate) steered: Counter,
    /// Refills that found the ring empty (the device had nothing to receive into).
    pub(crate) ring_empty: Counter,
    /// Notifications the device asked for (it had run out of buffers).
    pub(crate) kicks: Counter,
    /// RSC counters (host SCUs and the software engine).
    pub(crate) rsc_pkts: Counter,
    pub(crate) rsc_octets: Counter,
    pub(crate) rsc_events: Counter,
    pub(crate) rsc_aborts: Counter,
}

/// Transmit counters of one queue (writer: the holder of the queue's transmit lock).
#[derive(Debug, Default)]
pub(crate) struct TxStats {
    pub(crate) ok: CastCounters,
    /// Failed sends (`ifOutErrors`).
    pub(crate) errors: Counter,
    /// Malformed sends refused (`ifOutDiscards`).
    pub(crate) discards: Counter,
    /// NBLs queued in the driver, not yet (fully) posted.
    pub(crate) queued: AtomicU64,
    /// Frames sent through software segmentation.
    pub(crate) sw_segments: Counter,
    /// Frames copied into pre-mapped slots.
    pub(crate) copied: Counter,
    /// Frames sent through scatter/gather lists.
    pub(crate) mapped: Counter,
    /// Frames linearised into the bounce buffer.
    pub(crate) bounced: Counter,
}

/// Adds one queue's counters to a snapshot.
pub(crate) fn accumulate(out: &mut DatapathStats, rx: &RxStats, tx: &TxStats) {
    out.rx_frames += rx.ok.frames.get();
    out.rx_bytes += rx.ok.bytes.get();
    out.rx_unicast_frames += rx.ok.ucast_frames.get();
    out.rx_unicast_bytes += rx.ok.ucast_bytes.get();
    out.rx_multicast_frames += rx.ok.mcast_frames.get();
    out.rx_multicast_bytes += rx.ok.mcast_bytes.get();
    out.rx_broadcast_frames += rx.ok.bcast_frames.get();
    out.rx_broadcast_bytes += rx.ok.bcast_bytes.get();
    out.rx_errors += rx.errors.get();
    out.rx_discards += rx.discards.get();
    out.rx_no_buffer += rx.no_buffer.get();
    out.tx_frames += tx.ok.frames.get();
    out.tx_bytes += tx.ok.bytes.get();
    out.tx_unicast_frames += tx.ok.ucast_frames.get();
    out.tx_unicast_bytes += tx.ok.ucast_bytes.get();
    out.tx_multicast_frames += tx.ok.mcast_frames.get();
    out.tx_multicast_bytes += tx.ok.mcast_bytes.get();
    out.tx_broadcast_frames += tx.ok.bcast_frames.get();
    out.tx_broadcast_bytes += tx.ok.bcast_bytes.get();
    out.tx_errors += tx.errors.get();
    out.tx_discards += tx.discards.get();
    out.tx_queued += tx.queued.load(Ordering::Relaxed);
    out.rsc = RscStats {
        coalesced_packets: out.rsc.coalesced_packets + rx.rsc_pkts.get(),
        coalesced_octets: out.rsc.coalesced_octets + rx.rsc_octets.get(),
        coalesce_events: out.rsc.coalesce_events + rx.rsc_events.get(),
        aborts: out.rsc.aborts + rx.rsc_aborts.get(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_land_in_their_own_counters_and_the_totals() {
        let c = CastCounters::default();
        c.count(Cast::Unicast, 1, 100);
        c.count(Cast::Multicast, 2, 300);
        c.count(Cast::Broadcast, 1, 60);
        assert_eq!((c.frames.get(), c.bytes.get()), (4, 460));
        assert_eq!((c.ucast_frames.get(), c.ucast_bytes.get()), (1, 100));
        assert_eq!((c.mcast_frames.get(), c.mcast_bytes.get()), (2, 300));
        assert_eq!((c.bcast_frames.get(), c.bcast_bytes.get()), (1, 60));
    }

    #[test]
    fn snapshots_sum_queues() {
        let (rx, tx) = (RxStats::default(), TxStats::default());
        rx.ok.count(Cast::Unicast, 3, 3000);
        rx.rsc_pkts.add(10);
        rx.rsc_events.add(2);
        tx.ok.count(Cast::Broadcast, 1, 42);
        tx.errors.add(1);
        let mut s = DatapathStats::default();
        accumulate(&mut s, &rx, &tx);
        accumulate(&mut s, &rx, &tx);
        assert_eq!(s.rx_frames, 6);
        assert_eq!(s.rx_unicast_bytes, 6000);
        assert_eq!(s.tx_broadcast_frames, 2);
        assert_eq!(s.tx_errors, 2);
        assert_eq!(s.rsc.coalesced_packets, 20);
        assert_eq!(s.rsc.coalesce_events, 4);
    }
}

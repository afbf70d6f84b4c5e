//! Split virtqueue against the fake device: data paths, notification suppression, and
//! every hostile used-ring case.

mod common;

use common::*;
use netkvm_virtio::fake::{FakeConfig, FakeNetDevice, UsedCorruption};
use netkvm_virtio::queue::{need_event, USED_F_NO_NOTIFY};
use netkvm_virtio::{Buffer, DmaRegion, Features, Hal, QueueError, SplitQueue, UsedFault};

const RX: u16 = 0;
const TX: u16 = 1;

fn region(dev: &FakeNetDevice, len: usize) -> DmaRegion {
    dev.dma_alloc(len).unwrap()
}

fn fill(r: &DmaRegion, off: usize, data: &[u8]) {
    assert!(off + data.len() <= r.len);
    // SAFETY: test-owned DMA region, bounds asserted above, not posted to the device yet.
    unsafe {
        core::ptr::copy_nonoverlapping(
            data.as_ptr(),
            r.vaddr.as_ptr().wrapping_add(off),
            data.len(),
        )
    };
}

/// Adds a chain. Tests keep every buffer region alive until the end of the test and the
/// fake device is the only one touching them.
fn add<T: Copy, I: IntoIterator<Item = Buffer>>(
    q: &mut SplitQueue<FakeNetDevice, T>,
    bufs: I,
    token: T,
) -> Result<u16, QueueError> {
    // SAFETY: see above — buffers outlive the queue's use of them.
    unsafe { q.add(bufs, token) }
}

fn read(r: &DmaRegion, off: usize, len: usize) -> Vec<u8> {
    assert!(off + len <= r.len);
    let mut v = vec![0u8; len];
    // SAFETY: as `fill`; the device has returned the buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(r.vaddr.as_ptr().wrapping_add(off), v.as_mut_ptr(), len)
    };
    v
}

/// Posts `n` 4 KiB RX pages (tokens 0..n) from `pages`.
fn post_rx(q: &mut SplitQueue<FakeNetDevice, u32>, pages: &DmaRegion, n: u32) {
    for i in 0..n {
        let b = Buffer::writable(pages.paddr + 4096 * u64::from(i), 4096);
        // SAFETY: the pages live until the end of the test and are only read after pop.
        add(q, [b], i).unwrap();
    }
}

fn no_features() -> Features {
    Features::VERSION_1 | Features::MRG_RXBUF
}

#[test]
fn tx_two_descriptor_chain_reaches_device_with_header() {
    let (dev, t, f) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 256, 0, None);
    t.driver_ok();
    let buf = region(&dev, 4096);
    let hdr = [1u8, 0, 54, 0, 0, 0, 34, 0, 16, 0, 0, 0];
    let frame: Vec<u8> = (0..100u8).collect();
    fill(&buf, 0, &hdr);
    fill(&buf, 512, &frame);
    let chain = [
        Buffer::readable(buf.paddr, 12),
        Buffer::readable(buf.paddr + 512, 100),
    ];
    // SAFETY: buffer alive until popped.
    let head = add(&mut q, chain, 77).unwrap();
    assert_eq!(q.num_free(), 254);
    assert!(q.publish(), "first publish must kick");
    q.notify();
    assert_eq!(dev.notifications(TX), 1);
    let sent = dev.process_tx(TX).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].hdr, hdr);
    assert_eq!(sent[0].frame, frame);
    assert_eq!((sent[0].descriptors, sent[0].indirect), (2, false));
    assert_eq!(f.net_hdr_len(), 12);
    let u = q.pop_used().unwrap().unwrap();
    assert_eq!((u.token, u.len, u.posted_writable), (77, 0, 0));
    assert_eq!(q.num_free(), 256);
    assert!(q.pop_used().unwrap().is_none());
    let _ = head;
}

#[test]
fn indirect_chain_uses_one_ring_descriptor() {
    let (dev, t, f) = up(
        FakeConfig::default(),
        no_features() | Features::INDIRECT_DESC,
    );
    assert!(f.contains(Features::INDIRECT_DESC));
    let mut q = queue::<u32>(&t, TX, 256, 8, None);
    let buf = region(&dev, 4096);
    fill(&buf, 0, &[0u8; 12]);
    for i in 0..5u64 {
        fill(&buf, 100 + 10 * i as usize, &[i as u8; 10]);
    }
    let chain: Vec<Buffer> = std::iter::once(Buffer::readable(buf.paddr, 12))
        .chain((0..5u64).map(|i| Buffer::readable(buf.paddr + 100 + 10 * i, 10)))
        .collect();
    // SAFETY: alive until popped.
    add(&mut q, chain.iter().copied(), 1).unwrap();
    assert_eq!(q.num_free(), 255, "six buffers, one ring descriptor");
    // More buffers than the table takes fall back to a direct chain.
    let long: Vec<Buffer> = (0..9u64)
        .map(|i| Buffer::readable(buf.paddr + i, 1))
        .collect();
    // SAFETY: as above.
    add(&mut q, long, 2).unwrap();
    assert_eq!(q.num_free(), 246);
    q.publish_and_notify();
    let sent = dev.process_tx(TX).unwrap();
    assert_eq!((sent[0].descriptors, sent[0].indirect), (6, true));
    assert_eq!(
        sent[0].frame,
        [[0u8; 10], [1; 10], [2; 10], [3; 10], [4; 10]].concat()
    );
    assert_eq!((sent[1].descriptors, sent[1].indirect), (9, false));
    assert_eq!(q.pop_used().unwrap().unwrap().token, 1);
    assert_eq!(q.pop_used().unwrap().unwrap().token, 2);
    assert_eq!(q.num_free(), 256);
}

#[test]
fn rx_mergeable_frame_spans_posted_pages() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, RX, 256, 0, None);
    let pages = region(&dev, 8 * 4096);
    post_rx(&mut q, &pages, 8);
    q.publish_and_notify();
    t.driver_ok();
    let frame: Vec<u8> = (0..9000u32).map(|i| i as u8).collect();
    let hdr = [2u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(dev.deliver_rx(RX, &hdr, &frame).unwrap(), 3);
    let mut got = Vec::new();
    let mut lens = Vec::new();
    while let Some(u) = q.pop_used().unwrap() {
        assert_eq!(u.posted_writable, 4096);
        got.extend(read(&pages, 4096 * u.token as usize, u.len as usize));
        lens.push(u.len);
    }
    assert_eq!(lens, [4096, 4096, 12 + 9000 - 8192]);
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 3, "num_buffers");
    assert_eq!(got[0], 2);
    assert_eq!(&got[12..], &frame[..]);
}

#[test]
fn rx_big_buffer_without_mergeable() {
    let (dev, t, f) = up(FakeConfig::default(), Features::VERSION_1);
    assert!(!f.contains(Features::MRG_RXBUF));
    let mut q = queue::<u32>(&t, RX, 256, 0, None);
    let big = region(&dev, 17 * 4096);
    // One chain of 17 device-writable pages ("big packets").
    let chain: Vec<Buffer> = (0..17u64)
        .map(|i| Buffer::writable(big.paddr + 4096 * i, 4096))
        .collect();
    // SAFETY: alive until popped.
    add(&mut q, chain, 9).unwrap();
    q.publish_and_notify();
    let frame = vec![0xABu8; 60_000];
    assert_eq!(dev.deliver_rx(RX, &[0u8; 12], &frame).unwrap(), 1);
    let u = q.pop_used().unwrap().unwrap();
    assert_eq!((u.token, u.len, u.posted_writable), (9, 60_012, 17 * 4096));
    assert_eq!(read(&big, 12, 60_000), frame);
}

#[test]
fn batch_publishes_once_and_kicks_once() {
    let (dev, t, _) = up(
        FakeConfig::default(),
        no_features() | Features::RING_EVENT_IDX,
    );
    let mut q = queue::<u32>(&t, TX, 256, 0, None);
    let buf = region(&dev, 4096);
    for i in 0..64u32 {
        // SAFETY: alive until popped.
        add(&mut q, [Buffer::readable(buf.paddr, 60)], i).unwrap();
    }
    assert!(q.publish_and_notify());
    assert_eq!(dev.notifications(TX), 1);
    assert_eq!(dev.process_tx(TX).unwrap().len(), 64);
    let mut tokens: Vec<u32> =
        std::iter::from_fn(|| q.pop_used().unwrap().map(|u| u.token)).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, (0..64).collect::<Vec<_>>());
    // Nothing new: publish is a no-op and does not kick.
    assert!(!q.publish());
}

#[test]
fn event_idx_suppresses_kick_until_device_catches_up() {
    let (dev, t, _) = up(
        FakeConfig::default(),
        no_features() | Features::RING_EVENT_IDX,
    );
    let mut q = queue::<u32>(&t, TX, 256, 0, None);
    let buf = region(&dev, 4096);
    let add = |q: &mut SplitQueue<FakeNetDevice, u32>, tok| {
        // SAFETY: alive until popped.
        add(q, [Buffer::readable(buf.paddr, 60)], tok).unwrap();
    };
    add(&mut q, 0);
    assert!(q.publish(), "avail_event 0 lies in [0,1): kick");
    add(&mut q, 1);
    assert!(
        !q.publish(),
        "device has not consumed: avail_event still 0, no kick"
    );
    dev.process_tx(TX).unwrap(); // device consumes both, sets avail_event = 2
    add(&mut q, 2);
    assert!(q.publish(), "avail_event 2 in [2,3): kick");
    // The rule itself (§2.7.10), independent of the queue: event in [old, new).
    assert!(need_event(5, 6, 5));
    assert!(!need_event(4, 6, 5));
    assert!(need_event(0xFFFF, 1, 0xFFFE), "wraps");
}

#[test]
fn no_notify_flag_suppresses_kick_without_event_idx() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 256, 0, None);
    let buf = region(&dev, 4096);
    let used_flags = q.addresses().device;
    dev.memory().store16(used_flags, USED_F_NO_NOTIFY).unwrap();
    // SAFETY: alive until popped.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 0).unwrap();
    assert!(!q.publish());
    dev.memory().store16(used_flags, 0).unwrap();
    // SAFETY: as above.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 1).unwrap();
    assert!(q.publish());
}

fn interrupt_suppression(event_idx: bool) {
    let mut wanted = no_features();
    if event_idx {
        wanted |= Features::RING_EVENT_IDX;
    }
    let (dev, t, _) = up(FakeConfig::default(), wanted);
    let mut q = queue::<u32>(&t, RX, 256, 0, Some(1));
    let pages = region(&dev, 8 * 4096);
    post_rx(&mut q, &pages, 8);
    q.publish_and_notify();
    assert!(!q.enable_interrupts());
    dev.deliver_rx(RX, &[0; 12], &[1; 60]).unwrap();
    assert_eq!(dev.interrupts()[1], 1, "enabled: interrupt");
    // DPC: disable, drain, re-enable.
    q.disable_interrupts();
    assert!(q.pop_used().unwrap().is_some());
    dev.deliver_rx(RX, &[0; 12], &[1; 60]).unwrap();
    assert_eq!(dev.interrupts()[1], 1, "disabled: no interrupt");
    // Re-enabling with work pending says so (the DPC must poll again).
    assert!(q.enable_interrupts());
    assert!(q.pop_used().unwrap().is_some());
    assert!(!q.enable_interrupts());
    dev.deliver_rx(RX, &[0; 12], &[1; 60]).unwrap();
    assert_eq!(dev.interrupts()[1], 2, "re-enabled: interrupt");
}

#[test]
fn interrupt_suppression_with_event_idx() {
    interrupt_suppression(true);
}

#[test]
fn interrupt_suppression_with_flags() {
    interrupt_suppression(false);
}

#[test]
fn delayed_interrupts_wait_for_three_quarters() {
    let (dev, t, _) = up(
        FakeConfig::default(),
        no_features() | Features::RING_EVENT_IDX,
    );
    let mut q = queue::<u32>(&t, TX, 256, 0, Some(2));
    let buf = region(&dev, 4096);
    for i in 0..8u32 {
        // SAFETY: alive until popped.
        add(&mut q, [Buffer::readable(buf.paddr, 60)], i).unwrap();
    }
    q.publish_and_notify();
    q.disable_interrupts();
    assert!(!q.enable_interrupts_delayed()); // used_event = 6
    dev.process_tx(TX).unwrap(); // completes 8: used idx passes 6 → one interrupt
    assert_eq!(dev.interrupts()[2], 1);
}

#[test]
fn used_id_out_of_range_stops_queue() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    // SAFETY: alive until detached.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 5).unwrap();
    q.publish();
    dev.update_misbehavior(|m| m.used = Some(UsedCorruption::IdOutOfRange));
    dev.process_tx(TX).unwrap();
    let f = UsedFault::IdOutOfRange { id: 69, size: 64 };
    assert_eq!(q.pop_used(), Err(QueueError::Device(f)));
    // Sticky: neither pop nor add proceed until the reset.
    assert_eq!(q.pop_used(), Err(QueueError::Device(f)));
    // SAFETY: test buffer alive.
    assert_eq!(
        add(&mut q, [Buffer::readable(buf.paddr, 60)], 6),
        Err(QueueError::Device(f))
    );
    let mut back = Vec::new();
    // SAFETY: the fake device does not touch the ring again.
    unsafe { q.detach_unused(|t| back.push(t)) };
    assert_eq!(back, [5], "the token survives the fault");
    assert_eq!(q.num_free(), 64);
    assert_eq!(q.fault(), None);
}

#[test]
fn duplicate_completion_is_id_not_in_flight() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    // SAFETY: alive until popped.
    let head = add(&mut q, [Buffer::readable(buf.paddr, 60)], 1).unwrap();
    q.publish();
    // Two more in flight but not published, so two used entries stay within "in flight".
    for tok in [2, 3] {
        // SAFETY: as above.
        add(&mut q, [Buffer::readable(buf.paddr, 60)], tok).unwrap();
    }
    dev.update_misbehavior(|m| m.used = Some(UsedCorruption::DuplicateCompletion));
    dev.process_tx(TX).unwrap();
    assert_eq!(q.pop_used().unwrap().unwrap().token, 1);
    assert_eq!(
        q.pop_used(),
        Err(QueueError::Device(UsedFault::IdNotInFlight {
            id: u32::from(head)
        }))
    );
    let mut back = Vec::new();
    // SAFETY: device done.
    unsafe { q.detach_unused(|t| back.push(t)) };
    back.sort_unstable();
    assert_eq!(
        back,
        [2, 3],
        "token 1 was returned once, the others come back at reset"
    );
}

#[test]
fn completion_of_never_posted_id_is_id_not_in_flight() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    // SAFETY: alive until detached.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 1).unwrap();
    q.publish();
    // Device writes id 7 (never posted) by hand.
    let used = q.addresses().device;
    dev.memory().store32(used + 4, 7).unwrap();
    dev.memory().store32(used + 8, 0).unwrap();
    dev.memory().store16(used + 2, 1).unwrap();
    assert_eq!(
        q.pop_used(),
        Err(QueueError::Device(UsedFault::IdNotInFlight { id: 7 }))
    );
}

#[test]
fn used_length_larger_than_posted_is_reported_not_clamped() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, RX, 64, 0, None);
    let pages = region(&dev, 4096);
    post_rx(&mut q, &pages, 1);
    q.publish();
    dev.update_misbehavior(|m| m.used = Some(UsedCorruption::LengthTooLarge(100)));
    dev.deliver_rx(RX, &[0; 12], &[0; 4000]).unwrap();
    assert_eq!(
        q.pop_used(),
        Err(QueueError::Device(UsedFault::LengthTooLarge {
            id: 0,
            len: 4112,
            posted: 4096
        }))
    );
}

#[test]
fn used_index_jump_beyond_in_flight_is_fault() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    // SAFETY: alive until detached.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 0).unwrap();
    q.publish();
    // SAFETY: as above (second chain in flight, unpublished).
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 1).unwrap();
    // One completion but used->idx says 1 + 100 (more than the ring, more than in flight).
    dev.update_misbehavior(|m| m.used = Some(UsedCorruption::IndexJump(100)));
    dev.process_tx(TX).unwrap();
    assert_eq!(
        q.pop_used(),
        Err(QueueError::Device(UsedFault::IndexJump {
            last: 0,
            read: 101,
            in_flight: 2
        }))
    );
    let mut n = 0;
    // SAFETY: device done.
    unsafe { q.detach_unused(|_| n += 1) };
    assert_eq!(n, 2);
}

#[test]
fn used_index_going_backwards_is_fault() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    // SAFETY: alive until popped/detached.
    add(&mut q, [Buffer::readable(buf.paddr, 60)], 0).unwrap();
    q.publish();
    dev.update_misbehavior(|m| m.used = Some(UsedCorruption::IndexBackwards));
    dev.process_tx(TX).unwrap();
    assert_eq!(
        q.pop_used(),
        Err(QueueError::Device(UsedFault::IndexJump {
            last: 0,
            read: 0xFFFF,
            in_flight: 1
        }))
    );
}

#[test]
fn torn_looking_index_is_read_whole() {
    // 0x01FF → 0x0200 is the transition that, read byte by byte, produced 65 000
    // phantom completions in the prototype. Drive the ring across it.
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 64, 0, None);
    let buf = region(&dev, 4096);
    let mut popped = 0u32;
    for round in 0..0x210u32 {
        // SAFETY: alive until popped.
        add(&mut q, [Buffer::readable(buf.paddr, 60)], round).unwrap();
        q.publish();
        dev.process_tx(TX).unwrap();
        while let Some(u) = q.pop_used().unwrap() {
            assert_eq!(u.token, popped);
            popped += 1;
        }
    }
    assert_eq!(popped, 0x210);
}

#[test]
fn full_queue_is_not_a_fault() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 4, 0, None);
    let buf = region(&dev, 4096);
    let two = [
        Buffer::readable(buf.paddr, 12),
        Buffer::readable(buf.paddr + 12, 60),
    ];
    // SAFETY: alive until popped.
    add(&mut q, two, 0).unwrap();
    // SAFETY: as above.
    add(&mut q, two, 1).unwrap();
    // SAFETY: as above.
    assert_eq!(
        add(&mut q, two, 2),
        Err(QueueError::Full { needed: 2, free: 0 })
    );
    q.publish();
    dev.process_tx(TX).unwrap();
    assert!(q.pop_used().unwrap().is_some());
    // SAFETY: as above.
    add(&mut q, two, 2).unwrap();
    // Longer than the ring and no indirect: can never fit.
    let five = [Buffer::readable(buf.paddr, 1); 5];
    // SAFETY: as above.
    assert_eq!(
        add(&mut q, five, 3),
        Err(QueueError::ChainTooLong { len: 5 })
    );
}

#[test]
fn malformed_chains_are_rejected_without_side_effects() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, TX, 16, 0, None);
    let buf = region(&dev, 4096);
    let r = Buffer::readable(buf.paddr, 10);
    let w = Buffer::writable(buf.paddr, 10);
    assert_eq!(
        add(&mut q, [w, r], 0),
        Err(QueueError::ReadableAfterWritable)
    );
    assert_eq!(
        add(&mut q, [r, Buffer::readable(buf.paddr, 0)], 0),
        Err(QueueError::ZeroLengthBuffer)
    );
    assert_eq!(
        add(&mut q, core::iter::empty(), 0),
        Err(QueueError::EmptyChain)
    );
    assert_eq!(
        add(&mut q, [Buffer::writable(0, u32::MAX), w], 0),
        Err(QueueError::WritableLengthOverflow)
    );
    // An iterator without an exact size hint.
    assert_eq!(
        add(&mut q, [r, r].into_iter().filter(|_| true), 0),
        Err(QueueError::ChainLengthMismatch)
    );
    assert_eq!(q.num_free(), 16);
    assert_eq!(q.in_flight(), 0);
    assert!(!q.publish(), "nothing was made available");
}

#[test]
fn detach_unused_returns_published_and_unpublished_tokens_and_queue_is_reusable() {
    let (dev, t, _) = up(FakeConfig::default(), no_features());
    let mut q = queue::<u32>(&t, RX, 16, 0, None);
    let pages = region(&dev, 16 * 4096);
    post_rx(&mut q, &pages, 10);
    q.publish();
    dev.deliver_rx(RX, &[0; 12], &[0; 100]).unwrap(); // completes token 0, not popped
                                                      // SAFETY: pages alive.
    add(
        &mut q,
        [Buffer::writable(pages.paddr + 4096 * 10, 4096)],
        10,
    )
    .unwrap(); // unpublished
    let mut back = Vec::new();
    // SAFETY: "reset": the fake device no longer touches the ring.
    unsafe { q.detach_unused(|t| back.push(t)) };
    back.sort_unstable();
    assert_eq!(back, (0..11).collect::<Vec<_>>());
    assert_eq!((q.num_free(), q.in_flight()), (16, 0));
    // Re-activate after a device reset and use the same queue again.
    let mut t = t;
    t.begin_init().unwrap();
    t.negotiate(no_features()).unwrap();
    t.setup_queue(RX, 16).unwrap();
    t.activate_queue(RX, q.addresses(), None).unwrap();
    post_rx(&mut q, &pages, 2);
    q.publish();
    dev.deliver_rx(RX, &[0; 12], &[7; 100]).unwrap();
    assert_eq!(q.pop_used().unwrap().unwrap().token, 0);
}

#[test]
fn dropping_queues_frees_their_dma_memory() {
    let (dev, t, _) = up(
        FakeConfig::default(),
        no_features() | Features::INDIRECT_DESC,
    );
    let before = dev.memory().live_allocations();
    {
        let _q = queue::<u32>(&t, TX, 256, 16, None);
        assert_eq!(
            dev.memory().live_allocations(),
            before + 2,
            "ring + indirect tables"
        );
    }
    assert_eq!(dev.memory().live_allocations(), before);
    assert_eq!(dev.last_error(), None, "no double or foreign free");
}

#[test]
fn queue_with_hand_built_notify_outside_bar_is_refused() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    let setup = netkvm_virtio::transport::QueueSetup {
        index: 0,
        size: 16,
        notify: netkvm_virtio::transport::NotifyAddr {
            bar: 4,
            offset: 0x4000,
        },
    };
    // SAFETY: never activated.
    let r = unsafe { SplitQueue::<_, u32>::new(dev.clone(), setup, Default::default()) };
    assert!(r.is_err());
}

#![allow(dead_code)]
//! Shared bring-up for the integration tests.

use netkvm_virtio::ctrl::{ControlQueue, CtrlWait};
use netkvm_virtio::fake::{FakeConfig, FakeNetDevice};
use netkvm_virtio::{Features, NetConfig, PciTransport, QueueConfig, SplitQueue};

pub type Dev = FakeNetDevice;

/// Reset, ACK, DRIVER, negotiate `wanted`.
pub fn up(cfg: FakeConfig, wanted: Features) -> (Dev, PciTransport<Dev>, Features) {
    let dev = FakeNetDevice::new(cfg);
    let mut t = PciTransport::new(dev.clone(), &dev).expect("transport");
    t.begin_init().expect("init");
    let f = t.negotiate(wanted).expect("negotiate");
    (dev, t, f)
}

pub fn queue<T: Copy>(
    t: &PciTransport<Dev>,
    index: u16,
    size: u16,
    indirect: u16,
    vector: Option<u16>,
) -> SplitQueue<Dev, T> {
    let cfg = QueueConfig {
        max_size: size,
        indirect_max: indirect,
        indirect_min: 2,
        event_idx: false,
    };
    // SAFETY: tests drop queues before the fake device (which owns the memory) and the
    // fake device only touches rings when the test asks it to.
    unsafe { t.create_split_queue(index, cfg, vector) }.expect("queue")
}

pub fn ctrl(t: &PciTransport<Dev>, wait: CtrlWait) -> (ControlQueue<Dev>, NetConfig) {
    let netcfg = t.read_net_config().expect("config");
    let index = 2 * netcfg.max_virtqueue_pairs;
    let q = queue::<()>(t, index, 64, 0, None);
    let buf = ControlQueue::alloc_buffer(t.hal(), 4096).expect("ctrl buffer");
    (
        ControlQueue::new(q, buf, t.features(), netcfg, wait),
        netcfg,
    )
}

pub fn all_net() -> Features {
    Features::all()
}

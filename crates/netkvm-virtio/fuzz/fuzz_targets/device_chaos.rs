//! Arbitrary bytes stand for everything the device writes — register and config-space
//! reads during bring-up, used-ring indices and elements, control-queue completions and
//! acks — while the driver runs its normal loop (add / publish / pop / interrupts /
//! control commands / resets). `chaos::run` asserts every token comes back exactly once
//! and no DMA memory leaks; any panic is a driver bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netkvm_virtio::fake::chaos::run(data);
});

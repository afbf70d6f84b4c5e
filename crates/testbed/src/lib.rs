//! QEMU virtio-net testbed.

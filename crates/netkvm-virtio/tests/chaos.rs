//! The fuzz target's driver loop over deterministic pseudo-random device behaviour, so
//! plain `cargo test` exercises it too.

use netkvm_virtio::fake::chaos;

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn driver_loop_survives_arbitrary_device_writes() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut total = chaos::ChaosStats::default();
    for len in (0..3000).step_by(3) {
        let data: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
        let s = chaos::run(&data);
        total.negotiated += s.negotiated;
        total.added += s.added;
        total.popped += s.popped;
        total.faults += s.faults;
        total.detached += s.detached;
        total.ctrl_ok += s.ctrl_ok;
        total.ctrl_err += s.ctrl_err;
    }
    println!("{total:?}");
    // The harness must reach every part of the loop, or it proves nothing.
    assert!(total.negotiated > 0, "{total:?}");
    assert!(
        total.added > 1000 && total.popped > 100 && total.faults > 10,
        "{total:?}"
    );
    assert!(
        total.detached > 100 && total.ctrl_ok > 10 && total.ctrl_err > 10,
        "{total:?}"
    );
    assert_eq!(
        total.added,
        total.popped + total.detached,
        "every token accounted for"
    );
}

#[test]
fn driver_loop_survives_committed_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/device_chaos");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("seed corpus") {
        chaos::run(&std::fs::read(e.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n > 0, "no seeds in {dir:?}");
}

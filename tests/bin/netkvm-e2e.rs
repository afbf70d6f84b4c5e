//! `netkvm-e2e demo|bench`: placeholder until the runners exist.
fn main() {}

//! Writes or checks `hck/keywords.psd1` from the driver's advanced-property table.
//!
//! `cargo run -p hck-check --bin hck-keywords -- --write` regenerates the file;
//! `--check` exits 1 when it is stale; no argument prints the table to stdout.

use std::process::ExitCode;

use hck_check::keywords::{render, TABLE_PATH};
use netkvm_core::params::PARAMS;

fn main() -> ExitCode {
    let text = render(PARAMS);
    let path = hck_check::repo_root().join(TABLE_PATH);
    match std::env::args().nth(1).as_deref() {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some("--write") => match std::fs::write(&path, &text) {
            Ok(()) => {
                eprintln!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot write {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
        Some("--check") => match std::fs::read_to_string(&path) {
            Ok(old) if old == text => ExitCode::SUCCESS,
            Ok(_) => {
                eprintln!("{} is stale; run with --write", path.display());
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("usage: hck-keywords [--write | --check] (got `{other}`)");
            ExitCode::from(2)
        }
    }
}

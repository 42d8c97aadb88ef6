//! The `kplay` binary: see the library for the commands.

use std::io;
use std::process::ExitCode;

use kplay_cli::memory::{self, Counting};

/// Counts the heap, so `kplay run` can hold a run to its memory budget.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let probe = || Some((memory::live_bytes(), memory::peak_bytes()));
    let code = kplay_cli::main_with_memory(
        &args,
        &mut io::stdin().lock(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
        &probe,
    );
    ExitCode::from(code)
}

//! gig-check: the reliability checker (`gig_tests::checker`) over ledger files on disk.
//!
//! ```text
//! gig-check DIR                                   # DIR/produced and DIR/ledger*
//! gig-check [--key-ordered] --produced FILE LEDGER...
//! ```
//!
//! The ledgers are the files `gig-worker`, `gig-service` or `gig-bench --soak-ledger` write
//! (the format is in `gig_examples::worker`'s docs). The produced list says what the log
//! holds: one line per record, as its producer's delivery report placed it,
//!
//! ```text
//! PARTITION OFFSET KEY
//! ```
//!
//! with KEY as the ledgers write it (`k17`; `-` or nothing for a record without a key).
//! Lines that do not start with two numbers are skipped. `gig-bench --soak-ledger DIR`
//! writes it as `DIR/produced`.
//!
//! Prints the checker's `Report` line (and its first findings, if any) and exits with 1
//! unless the run is clean: nothing lost, no poll skip, no order or serial violation, no
//! record reprocessed after a commit. Duplicates are reported, not failed: at-least-once
//! allows them. `--key-ordered` checks order and serial processing per key, for a run with
//! Gig's key ordering on.

use std::path::PathBuf;

use gig_tests::checker::{check, Ledgers, Produced};

/// The produced list at `path`.
fn produced(path: &PathBuf) -> Vec<Produced> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| exit(&format!("{}: {e}", path.display())));
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            Some(Produced {
                partition: f.next()?.parse().ok()?,
                offset: f.next()?.parse().ok()?,
                key: f.next().filter(|k| *k != "-").map(str::to_string),
            })
        })
        .collect()
}

/// The reliability checker over ledger files on disk: exits 1 unless nothing was lost and no
/// poll skip, order or serial violation, or reprocessing after a commit was found.
#[derive(clap::Parser)]
#[command(
    override_usage = "gig-check DIR\n       gig-check [--key-ordered] --produced FILE LEDGER..."
)]
struct Args {
    /// Check order and serial processing per key, for a run with Gig's key ordering on.
    #[arg(long)]
    key_ordered: bool,
    /// The produced list (`PARTITION OFFSET KEY` per line); without it, the one argument is
    /// a directory holding `produced` and the `ledger*` files.
    #[arg(long, value_name = "FILE")]
    produced: Option<PathBuf>,
    /// The ledger files (or, without `--produced`, the one directory).
    #[arg(required = true, value_name = "LEDGER")]
    ledgers: Vec<PathBuf>,
}

fn main() {
    let Args {
        key_ordered,
        produced: list,
        mut ledgers,
    } = <Args as clap::Parser>::parse();
    // `gig-check DIR`: the produced list and the ledgers in it.
    let list = match list {
        Some(list) => list,
        None => {
            let [dir] = ledgers.as_slice() else {
                exit("give one directory, or --produced FILE and the ledgers")
            };
            let dir = dir.clone();
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| exit(&format!("{}: {e}", dir.display())));
            ledgers = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("ledger"))
                })
                .collect();
            ledgers.sort();
            if ledgers.is_empty() {
                exit(&format!("{}: no ledger files", dir.display()));
            }
            dir.join("produced")
        }
    };
    let produced = produced(&list);
    let ledgers = Ledgers::read(&ledgers);
    let report = check(&produced, &ledgers, key_ordered);
    println!("{report}");
    for example in &report.examples {
        println!("  {example}");
    }
    if !report.clean() || report.lost > 0 {
        std::process::exit(1);
    }
}

fn exit(message: &str) -> ! {
    eprintln!("gig-check: {message}");
    std::process::exit(2)
}

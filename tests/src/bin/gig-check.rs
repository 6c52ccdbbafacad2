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

fn usage() -> ! {
    eprintln!("usage: gig-check DIR | gig-check [--key-ordered] --produced FILE LEDGER...");
    std::process::exit(2)
}

/// The produced list at `path`.
fn produced(path: &PathBuf) -> Vec<Produced> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("gig-check: {}: {e}", path.display());
        std::process::exit(2)
    });
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let key_ordered = args.iter().any(|a| a == "--key-ordered");
    let mut rest = args.iter().filter(|a| *a != "--key-ordered");
    let mut list = None;
    let mut ledgers: Vec<PathBuf> = Vec::new();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--produced" => list = Some(PathBuf::from(rest.next().unwrap_or_else(|| usage()))),
            "-h" | "--help" => usage(),
            _ => ledgers.push(PathBuf::from(a)),
        }
    }
    // `gig-check DIR`: the produced list and the ledgers in it.
    if list.is_none() {
        let [dir] = ledgers.as_slice() else { usage() };
        let dir = dir.clone();
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            eprintln!("gig-check: {}: {e}", dir.display());
            std::process::exit(2)
        });
        ledgers = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ledger"))
            })
            .collect();
        ledgers.sort();
        list = Some(dir.join("produced"));
    }
    let Some(list) = list else { usage() };
    if ledgers.is_empty() {
        usage();
    }
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

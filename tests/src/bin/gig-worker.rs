//! One Gig consumer process for the multi-process tests: see `gig_examples::worker`.

fn main() -> std::process::ExitCode {
    gig_examples::worker::main()
}

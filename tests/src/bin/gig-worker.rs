//! One Gig consumer process for the multi-process tests: see `gig_examples::worker`.

fn main() {
    gig_examples::worker::main();
}

//! The service example, for the tests that run it as a child process: see
//! `gig_examples::service`.

fn main() {
    gig_examples::service::main();
}

//! The service example, for the tests that run it as a child process: see
//! `gig_examples::service`.

fn main() -> std::process::ExitCode {
    gig_examples::service::main()
}

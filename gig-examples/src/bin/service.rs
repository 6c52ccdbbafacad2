//! A Gig consumer as a deployed service: see `gig_examples::service`.
//!
//! ```text
//! cargo run -p gig-examples --bin service
//! ```

fn main() -> std::process::ExitCode {
    gig_examples::service::main()
}

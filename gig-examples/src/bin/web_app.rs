//! An actix-web service with Gig inside: see `gig_examples::web_app`.
//!
//! ```text
//! cargo run -p gig-examples --bin web_app
//! ```

fn main() -> std::process::ExitCode {
    gig_examples::web_app::main()
}

//! The web_app example, for the test that runs it as a child process (tests/web_app.rs): see
//! `gig_examples::web_app`.

fn main() -> std::process::ExitCode {
    gig_examples::web_app::main()
}

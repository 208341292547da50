//! The `we` binary: everything lives in the `codeb_cli` library.

fn main() -> std::process::ExitCode {
    codeb_cli::main()
}

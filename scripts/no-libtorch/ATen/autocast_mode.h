// Found only when libtorch is not installed (see .cargo/config.toml).
#error "libtorch is not installed: run scripts/setup (it installs torch 2.13.0 for tch into .venv)"

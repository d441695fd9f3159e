//! Links the executor against the libtorch that scripts/setup installs:
//! checks its version (tch 0.26 needs 2.13.0), embeds an rpath so binaries and
//! tests run without LD_LIBRARY_PATH, and compiles the small C++ shim for the
//! libtorch settings tch does not expose (deterministic algorithms, the CPU
//! capability in effect).

use std::path::PathBuf;

const TORCH_VERSION: &str = "2.13.0";

fn main() {
    let lib = PathBuf::from(std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys passes the libtorch lib dir"));
    let include = lib.parent().expect("libtorch/lib has a parent").join("include");
    let version_h = include.join("torch/headeronly/version.h");
    let header = std::fs::read_to_string(&version_h).unwrap_or_default();
    let version = ["MAJOR", "MINOR", "PATCH"]
        .map(|part| {
            header
                .lines()
                .find_map(|l| l.strip_prefix(&format!("#define TORCH_VERSION_{part} ")))
                .unwrap_or("?")
                .trim()
                .to_string()
        })
        .join(".");
    if version != TORCH_VERSION {
        panic!(
            "libtorch at {} is version {version}, but tch 0.26 needs {TORCH_VERSION}: run scripts/setup",
            lib.display()
        );
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=ATOMA_LIBTORCH_VERSION={version}");
    println!("cargo:rerun-if-changed=src/engine/libtorch_shim.cpp");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .file("src/engine/libtorch_shim.cpp")
        .compile("atoma_libtorch_shim");
}

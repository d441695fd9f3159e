//! `atoma-model import`: a checkpoint's manifest, written beside it with
//! every file's digest once the engine has loaded it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use atoma_executor::engine::{ClassProfile, TchEngine};
use atoma_executor::manifest::{Checkpoint, ModelManifest};

use super::class;

/// Imports a Hugging Face checkpoint: writes its manifest with every file's
/// digest, after loading it once so that a checkpoint the engine refuses is
/// refused now.
pub(super) fn import(
    dir: &Path,
    id: &str,
    hardware_class: &str,
    out: Option<PathBuf>,
    max_new_tokens: usize,
    context: Option<usize>,
    profile: Option<&Path>,
) -> Result<()> {
    let mut dir = dir.components().collect::<PathBuf>();
    if dir.is_file() && dir.extension().is_some_and(|e| e == "gguf") {
        // A GGUF file stands for its directory, which must hold it alone.
        dir = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    }
    let name = dir.file_name().context("the checkpoint directory has no name")?.to_owned();
    let out = out.unwrap_or_else(|| dir.with_file_name(format!("{}.toml", name.to_string_lossy())));
    // The manifest names the directory relative to itself when it can.
    let base = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let relative = pathdiff(&dir, base);
    let manifest = ModelManifest::import(&dir, relative, id, hardware_class, max_new_tokens, context)?;
    // Load it once, so that a checkpoint the engine refuses is refused now.
    std::fs::write(&out, manifest.to_toml()).with_context(|| format!("writing {}", out.display()))?;
    if let Err(e) = TchEngine::load(&out, &ClassProfile { name: hardware_class.to_string(), ..class(profile)? }, None) {
        std::fs::remove_file(&out).ok();
        return Err(e).context(format!("{} cannot be served", dir.display()));
    }
    let files = manifest.hf.as_ref().map(|h| h.files.len()).unwrap_or(0);
    println!("wrote {} ({files} file{})", out.display(), if files == 1 { "" } else { "s" });
    println!("model digest {}", manifest.digest());
    Ok(())
}

/// `target` relative to `base` when both are relative or both absolute; else `target`.
fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let (t, b) = match (std::path::absolute(target), std::path::absolute(base)) {
        (Ok(t), Ok(b)) => (t, b),
        _ => return target.to_path_buf(),
    };
    let (tc, bc): (Vec<_>, Vec<_>) = (t.components().collect(), b.components().collect());
    let common = tc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c);
    }
    out
}

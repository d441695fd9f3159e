//! Safetensors weights, memory-mapped: a tensor whose dtype is the class's
//! is a view of the mapped file (no copy); one of another dtype is converted
//! once. Reads `model.safetensors`, or the shards that
//! `model.safetensors.index.json` names.
//!
//! Every tensor is checked against the architecture's list of names and
//! shapes: a missing, extra or mis-shaped tensor is an error naming it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use tch::{Device, Kind, Tensor};

use super::ModelError;

/// The checkpoint's tensors, converted to the class's dtype and device.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    /// The mappings the tensors view; kept alive as long as the tensors.
    _maps: Vec<Mmap>,
}

// SAFETY: the tensors are read-only views or owned copies; `Weights` is used
// by one thread at a time.
unsafe impl Send for Weights {}

/// The weight files of a checkpoint directory, relative names.
pub fn weight_files(dir: &Path) -> Result<Vec<String>, ModelError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: BTreeMap<String, String>,
        }
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::file(&index, e))?;
        let parsed: Index =
            serde_json::from_str(&text).map_err(|e| ModelError::caused(index.display().to_string(), e))?;
        let mut files: Vec<String> = parsed.weight_map.into_values().collect();
        files.sort();
        files.dedup();
        for f in &files {
            if f.contains('/') || f.contains("..") || !f.ends_with(".safetensors") {
                return Err(ModelError::new(format!(
                    "{}: shard name {f:?} is not a file in the directory",
                    index.display()
                )));
            }
        }
        files.insert(0, "model.safetensors.index.json".into());
        Ok(files)
    } else if dir.join("model.safetensors").exists() {
        Ok(vec!["model.safetensors".into()])
    } else {
        Err(ModelError::new(format!(
            "{}: no model.safetensors nor model.safetensors.index.json (only safetensors checkpoints are served)",
            dir.display()
        )))
    }
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        _ => return None,
    })
}

impl Weights {
    /// Maps the weight files of `dir` and checks them against `expected`
    /// (name and shape of every tensor the architecture uses); `ignored`
    /// names tensors a checkpoint may carry that the model does not use
    /// (buffers such as `position_ids`); `canonical` maps a checkpoint's
    /// name to the architecture's (stripping a prefix such as `transformer.`).
    /// Float tensors become `kind` on `device`.
    pub fn load(
        dir: &Path,
        expected: &[(String, Vec<i64>)],
        canonical: &dyn Fn(&str) -> String,
        ignored: &dyn Fn(&str) -> bool,
        kind: Kind,
        device: Device,
    ) -> Result<Self, ModelError> {
        let files = weight_files(dir)?;
        let mut maps = Vec::new();
        for name in files.iter().filter(|f| f.ends_with(".safetensors")) {
            let path = dir.join(name);
            let file = File::open(&path).map_err(|e| ModelError::file(&path, e))?;
            // SAFETY: the file is opened read-only and its digest was checked;
            // a node must not change checkpoint files while it serves them.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::file(&path, e))?;
            maps.push((name.clone(), map));
        }
        let want: HashMap<&str, &Vec<i64>> = expected.iter().map(|(n, s)| (n.as_str(), s)).collect();
        let mut tensors = HashMap::new();
        for (file, map) in &maps {
            let st = SafeTensors::deserialize(map)
                .map_err(|e| ModelError::caused(format!("{file}: not a safetensors file"), e))?;
            // In name order, so that the first error reported is always the same.
            let mut listed = st.tensors();
            listed.sort_by(|a, b| a.0.cmp(&b.0));
            for (raw, view) in listed {
                let name = canonical(&raw);
                let Some(shape) = want.get(name.as_str()) else {
                    if ignored(&name) {
                        continue;
                    }
                    return Err(ModelError::new(format!(
                        "{file}: tensor `{name}` is not part of this architecture (extra tensor)"
                    )));
                };
                let dims: Vec<i64> = view.shape().iter().map(|d| *d as i64).collect();
                if &&dims != shape {
                    return Err(ModelError::new(format!(
                        "{file}: tensor `{name}` has shape {dims:?}, the config implies {shape:?}"
                    )));
                }
                let src = kind_of(view.dtype()).ok_or_else(|| {
                    ModelError::new(format!("{file}: tensor `{name}` has dtype {:?}, not a float type", view.dtype()))
                })?;
                let data = view.data();
                let elt = src.elt_size_in_bytes();
                let strides = contiguous_strides(&dims);
                let t = if (data.as_ptr() as usize).is_multiple_of(elt) {
                    // SAFETY: `data` lies inside the mapping, which `Weights`
                    // keeps alive; the tensor is never written.
                    unsafe { Tensor::from_blob(data.as_ptr(), &dims, &strides, src, Device::Cpu) }
                } else {
                    Tensor::from_data_size(data, &dims, src)
                };
                let t = if src == kind && device == Device::Cpu { t } else { t.to_device(device).to_kind(kind) };
                if tensors.insert(name.clone(), t).is_some() {
                    return Err(ModelError::new(format!("{file}: tensor `{name}` appears in two shards")));
                }
            }
        }
        if let Some((name, _)) = expected.iter().find(|(n, _)| !tensors.contains_key(n)) {
            return Err(ModelError::new(format!("{}: tensor `{name}` is missing", dir.display())));
        }
        Ok(Weights { tensors, _maps: maps.into_iter().map(|(_, m)| m).collect() })
    }

    /// Tensors another format's loader built and checked (a GGUF file's,
    /// dequantized: `engine::gguf::llama`), under the architecture's names.
    pub(crate) fn from_tensors(tensors: HashMap<String, Tensor>) -> Self {
        Weights { tensors, _maps: Vec::new() }
    }

    /// A tensor the load checked to exist.
    pub fn get(&self, name: &str) -> Tensor {
        self.tensors.get(name).unwrap_or_else(|| panic!("tensor {name} was checked at load")).shallow_clone()
    }

    /// A tensor that may be absent (e.g. an optional bias).
    pub fn maybe(&self, name: &str) -> Option<Tensor> {
        self.tensors.get(name).map(Tensor::shallow_clone)
    }
}

fn contiguous_strides(dims: &[i64]) -> Vec<i64> {
    let mut strides = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * dims[i + 1];
    }
    strides
}

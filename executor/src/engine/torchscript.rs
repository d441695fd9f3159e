//! TorchScript models: any module whose `forward` takes one tensor and
//! returns one tensor. Input and output are tensors in the canonical
//! encoding of `codec`.

use std::path::Path;

use tch::{CModule, Device};

use super::{EngineError, ModelError, codec};

/// A loaded TorchScript module.
pub struct TorchScript {
    module: CModule,
    device: Device,
}

impl TorchScript {
    /// Loads the module from its archive, in evaluation mode, with the
    /// graph executor's optimisations off (they rewrite kernels between runs).
    pub fn load(path: &Path, device: Device) -> Result<Self, EngineError> {
        tch::jit::set_graph_executor_optimize(false);
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| ModelError::caused(format!("loading TorchScript {}", path.display()), e))?;
        module.set_eval();
        Ok(TorchScript { module, device })
    }

    /// Runs `forward` on the decoded input; returns the encoded output.
    ///
    /// A module that raises on a tensor it was given (a wrong shape or
    /// dtype) refuses that input: the refusal depends on the module and the
    /// input only, so it is a `BadInput` with a fixed message (libtorch's
    /// text is not committed to). Running out of memory is the node's
    /// failure, not the input's.
    pub fn run(&self, input: &[u8]) -> Result<Vec<u8>, EngineError> {
        let x = codec::decode(input)?.to_device(self.device);
        let y = self.module.forward_ts(&[x]).map_err(|e| {
            if e.to_string().contains("out of memory") {
                ModelError::caused("forward", e).into()
            } else {
                EngineError::bad_input("model_refused_input", "the model raised an error on this input")
            }
        })?;
        codec::encode(&y)
    }
}

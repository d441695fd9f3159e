//! TorchScript models: any module whose `forward` takes one tensor and
//! returns one tensor. Input and output are tensors in the canonical
//! encoding of `codec`.

use std::path::Path;

use tch::{CModule, Device};

use super::{EngineError, codec};

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
            .map_err(|e| EngineError::Model(format!("loading TorchScript {}: {e}", path.display())))?;
        module.set_eval();
        Ok(TorchScript { module, device })
    }

    /// Runs `forward` on the decoded input; returns the encoded output.
    pub fn run(&self, input: &[u8]) -> Result<Vec<u8>, EngineError> {
        let x = codec::decode(input)?.to_device(self.device);
        let y = self.module.forward_ts(&[x]).map_err(|e| EngineError::Model(format!("forward: {e}")))?;
        codec::encode(&y)
    }
}

//! Exit statuses beyond success (0) and error (1): how a request ended,
//! for scripts that run `atoma submit`.

/// The request failed on chain.
pub const FAILED: i32 = 3;
/// The request finalized, and the model refused its input.
pub const REFUSED: i32 = 4;
/// `--wait-s` ran out before the request settled.
pub const WAIT_RAN_OUT: i32 = 5;

/// An outcome that ends the command with its own exit status and message.
#[derive(Debug)]
pub struct Exit {
    /// The exit status.
    pub code: i32,
    /// What is printed on standard error.
    pub message: String,
}

impl Exit {
    pub fn new(code: i32, message: String) -> Self {
        Exit { code, message }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}
